import Foundation
import KithModel
import KithPersona
import KithTestSupport
import Testing

@Suite("Embedded engine")
struct EmbeddedEngineTests {
    static func load(_ name: String) throws -> IdentityModel {
        try IdentityModel(yaml: String(contentsOf: Fixtures.repoFile("Examples/\(name).yaml"), encoding: .utf8))
    }

    /// Plays a whole conversation between two embedded engines, as the node would.
    static func converse(_ a: IdentityModel, _ b: IdentityModel, turns: Int = 10) async throws -> [(Bool, PersonaTurn)] {
        var lines: [(Bool, PersonaTurn)] = []
        let engines = [EmbeddedEngine(seed: 1), EmbeddedEngine(seed: 3)]
        let people = [a, b]
        var speaker = 0
        for _ in 0..<(turns + 2) {
            let me = people[speaker], other = people[1 - speaker]
            let context = TurnContext(persona: me, memories: MemoryFilter.permitted(me, peerIsFriend: false), peerName: other.name,
                                      peerInterests: other.interests, peerIsFriend: false, topic: "getting to know each other",
                                      transcript: lines.map { .init(mine: $0.0 == (speaker == 0), kind: $0.1.kind, text: $0.1.text) },
                                      turnsLeft: turns - lines.count)
            var turn = try await engines[speaker].nextTurn(context)
            if lines.count >= turns && turn.kind != .close { turn.kind = .close }
            lines.append((speaker == 0, turn))
            if turn.kind == .close { break }
            speaker = 1 - speaker
        }
        return lines
    }

    @Test func adaAndCleoMeetTalkFromPermittedMemoriesAndProposeAndAccept() async throws {
        var ada = try Self.load("ada"), cleo = try Self.load("cleo")
        cleo.policy.connect = .auto
        ada.policy.minMatchThousandths = 500
        let lines = try await Self.converse(ada, cleo)
        let texts = lines.map(\.1.text)
        #expect(texts[0].contains("Ada") && !texts[0].contains("Cleo"), "a greeting that names its own person, not the peer (whose name the peer controls)")
        #expect(lines.contains { $0.1.kind == .propose }, "\(texts)")
        #expect(lines.contains { $0.1.kind == .accept })
        #expect(lines.last?.1.kind == .close)
        // Only public memories are ever quoted to a stranger.
        let forbidden = (ada.memories + cleo.memories).filter { $0.visibility != .public }.map(\.text)
        #expect(!texts.contains { t in forbidden.contains { t.contains($0) } })
        let disclosed = lines.flatMap(\.1.disclosed)
        #expect(!disclosed.isEmpty && disclosed.allSatisfy { $0.visibility == .public })
    }

    @Test func theSameSeedGivesTheSameConversation() async throws {
        let a = try await Self.converse(try Self.load("ada"), try Self.load("cleo")).map(\.1)
        let b = try await Self.converse(try Self.load("ada"), try Self.load("cleo")).map(\.1)
        #expect(a == b)
    }

    @Test func assessmentRewardsSharedInterestsWithReasons() throws {
        let ada = try Self.load("ada"), cleo = try Self.load("cleo"), ben = try Self.load("ben")
        func assess(_ me: IdentityModel, _ peer: IdentityModel) -> Assessment {
            Assessment.embedded(TurnContext(persona: me, memories: [], peerName: peer.name, peerInterests: peer.interests,
                                            peerIsFriend: false, topic: "", transcript: [], turnsLeft: 5))
        }
        let adaCleo = assess(ada, cleo), adaBen = assess(ada, ben)
        #expect(adaCleo.score > adaBen.score)
        #expect(adaCleo.score >= 0 && adaCleo.score <= 1)
        #expect(adaCleo.reasons.first?.contains("climbing") == true)
    }

    @Test func proposalsAreAnsweredByTheConnectPolicy() async throws {
        var model = try Self.load("cleo")
        let propose = [TurnContext.Line(mine: false, kind: .propose, text: "Shall we connect?")]
        func answer(_ policy: IdentityModel.ConnectPolicy) async throws -> ConversationEntry.Kind {
            model.policy.connect = policy
            model.policy.minMatchThousandths = 100
            return try await EmbeddedEngine().nextTurn(TurnContext(persona: model, memories: [], peerName: "Ada", peerInterests: ["poetry", "climbing"],
                                                                    peerIsFriend: false, topic: "", transcript: propose, turnsLeft: 4)).kind
        }
        #expect(try await answer(.auto) == .accept)
        #expect(try await answer(.never) == .decline)
        #expect(try await answer(.ask) == .accept)
    }
}
