import Foundation
import KithModel
import KithPersona
import KithTestSupport
import Testing

/// The embedded engine as a person would judge it (`ConversationQuality`): it answers what it
/// is asked from the right memory, never repeats itself, asks about the peer rather than about
/// itself, reveals nothing forbidden, knows a friend from a stranger, and writes whole words.
@Suite("Conversation quality: embedded engine")
struct ConversationQualityTests {
    static func people() throws -> [String: IdentityModel] {
        var out: [String: IdentityModel] = [:]
        for name in ["ada", "ben", "cleo"] {
            out[name] = try IdentityModel(yaml: String(contentsOf: Fixtures.repoFile("Examples/\(name).yaml"), encoding: .utf8))
        }
        return out
    }

    @Test func theEmbeddedEngineMeetsTheQualityGoals() async throws {
        let people = try Self.people()
        let q = try await ConversationQuality.measure(people: people) { name in EmbeddedEngine(seed: people[name]?.engine.seed ?? 0) }
        print("conversation quality (embedded): \(q)")
        #expect(q.answerRate >= 0.8, "\(q.misses.joined(separator: "\n"))")
        #expect(q.repeated == 0, "\(q.repeats.joined(separator: "\n"))")
        #expect(q.aboutSelf == 0 && q.aboutPeer > 0, "\(q)")
        #expect(q.forbidden == 0, "\(q.leaks)")
        #expect(q.conversations == 12)
    }

    @Test func friendsAreGreetedAsFriendsAndNeverProposedTo() async throws {
        let people = try Self.people()
        var ada = people["ada"]!, ben = people["ben"]!
        ada.policy.minMatchThousandths = 0
        ben.policy.connect = .auto
        var q = ConversationQuality()
        let asFriends = try await ConversationQuality.converse(ada, ben, friend: true, turns: 10, engines: [EmbeddedEngine(seed: 1), EmbeddedEngine(seed: 2)], quality: &q)
        #expect(asFriends[0].1.text.contains("again"), "\(asFriends[0].1.text)")
        #expect(!asFriends[0].1.text.contains("meet you"))
        #expect(!asFriends.contains { $0.1.kind == .propose }, "a proposal to an existing friend")
        let asStrangers = try await ConversationQuality.converse(ada, ben, friend: false, turns: 10, engines: [EmbeddedEngine(seed: 1), EmbeddedEngine(seed: 2)], quality: &q)
        #expect(asStrangers[0].1.text.contains("meet you"))
        #expect(asStrangers.contains { $0.1.kind == .propose })
    }

    @Test func aQuestionNoPermittedMemoryAnswersGetsAPlainNoAndRevealsNothing() async throws {
        let ben = try Self.people()["ben"]!
        // The answer is in a private memory (the bakery lease): nothing it may share answers it.
        let context = TurnContext(persona: ben, memories: MemoryFilter.permitted(ben, peerIsFriend: true), peerName: "Ada",
                                  peerInterests: ["climbing"], peerIsFriend: true, topic: "catching up",
                                  transcript: [.init(mine: true, kind: .say, text: "Hello again."),
                                               .init(mine: false, kind: .say, text: "Have you signed the lease offer yet?")],
                                  turnsLeft: 6)
        let turn = try await EmbeddedEngine(seed: 2).nextTurn(context)
        #expect(turn.disclosed.isEmpty, "\(turn.text)")
        #expect(!turn.text.contains("bakery") && (turn.text.contains("can't") || turn.text.contains("don't") || turn.text.contains("isn't")), "\(turn.text)")
    }

    @Test func withFewMemoriesItHoldsAShortConversationAndClosesRatherThanLoops() async throws {
        var sparse = IdentityModel(name: "Dee")
        sparse.interests = ["chess"]
        sparse.memories = [.init(text: "I play chess in the park on Sundays.", visibility: .public, tags: ["chess"])]
        let cleo = try Self.people()["cleo"]!
        var q = ConversationQuality()
        let lines = try await ConversationQuality.converse(sparse, cleo, friend: false, turns: 20, engines: [EmbeddedEngine(seed: 5), EmbeddedEngine(seed: 3)], quality: &q)
        let dee = lines.filter(\.0).map(\.1.text)
        let all = dee.flatMap(ConversationQuality.sentences)
        #expect(Set(all).count == all.count, "Dee repeated herself: \(dee)")
        #expect(lines.count < 20, "it closed before the limit instead of looping (\(lines.count) turns)")
        #expect(lines.last?.1.kind == .close)
    }

    @Test func reasonsUseWholeWordsNeverStems() throws {
        let people = try Self.people()
        let cleo = people["cleo"]!, ben = people["ben"]!
        let context = TurnContext(persona: ben, memories: MemoryFilter.permitted(ben, peerIsFriend: false), peerName: cleo.name,
                                  peerInterests: cleo.interests, peerIsFriend: false, topic: "t",
                                  transcript: [.init(mine: false, kind: .say, text: "I love running, cycling trips and baking sourdough.")],
                                  turnsLeft: 4)
        let reasons = Assessment.embedded(context).reasons.joined(separator: " ")
        let source = Set((ben.interests + ben.values + ben.memories.flatMap(\.tags)).flatMap { $0.lowercased().split { !$0.isLetter }.map(String.init) })
        let talked = reasons.components(separatedBy: "they talked about ").dropFirst().first ?? ""
        for word in talked.split(whereSeparator: { !$0.isLetter }) {
            #expect(source.contains(String(word)), "'\(word)' in \(reasons) is not a word Ben's model uses")
        }
        #expect(talked.contains("cycling") && talked.contains("baking"), "\(reasons)")
    }
}
