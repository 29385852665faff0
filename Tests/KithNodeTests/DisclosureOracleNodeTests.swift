import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithNode
import KithPersona
import KithProtocol
import KithTestSupport
import Testing

/// The disclosure oracle against a running node: a hostile stranger opens 100 conversations,
/// each with a guess in the topic and in its turns, half of them real words of the node's
/// hidden memories and half decoys, and tries to tell them apart by what the node answers.
@Suite("Disclosure oracle against a running node", .serialized)
struct DisclosureOracleNodeTests {
    static func node(engine: String) throws -> NodeHome {
        let dir = try Fixtures.temporaryDirectory("oracle")
        let file = dir.appendingPathComponent("ada.yaml")
        try DisclosureOracle.yaml.replacingOccurrences(of: "kind: embedded\n  seed: 3", with: engine)
            .write(to: file, atomically: true, encoding: .utf8)
        let home = NodeHome(path: dir.appendingPathComponent("home").path)
        _ = try NodeHome.initialise(at: home, name: nil, modelSource: file.path, network: "main", passphrase: nil, cost: .interactive)
        return home
    }

    /// Plays every guess against `node`; each observation is the kinds, texts and disclosed
    /// hashes of the node's entries, the guess masked out.
    static func observe(_ node: RunningNode) async throws -> [(real: Bool, seen: String)] {
        let mallory = try HostilePeer.make()
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: node.port, expected: node.identity)
        var events = mallory.transport.events.makeAsyncIterator()
        var observations: [(real: Bool, seen: String)] = []
        for (guess, real) in DisclosureOracle.guesses {
            let turns = DisclosureOracle.turns(guess)
            var log = try await mallory.openConversation(with: node.identity, over: conn, topic: DisclosureOracle.topic(guess), maxTurns: 10,
                                                         text: turns[0])
            var seen = ""
            for next in turns.dropFirst().map(Optional.some) + [nil] {
                let reply = try #require(await nextMessage(&events, "conv-entry"), "no answer to \(guess)")
                try HostilePeer.append(reply, to: &log)
                let entry = log.entries[log.count - 1].entry
                seen += "\(entry.kind)|\(entry.text)|\(entry.disclosed.map(Hex.encode))\n"
                let (kind, text): (ConversationEntry.Kind, String) = next.map { (.say, $0) } ?? (.close, "bye")
                try mallory.speaker.say(in: &log, kind: kind, text: text, ts: WallClock.system.now())
                try await conn.send(.conversation(.entry(conv: log.id, entry: log.entries[log.count - 1].object, manifest: nil)))
            }
            _ = await nextMessage(&events, "conv-seal")
            observations.append((real, DisclosureOracle.masked(seen, guess)))
        }
        await mallory.shutdown()
        return observations
    }

    @Test(arguments: ["embedded", "openai"])
    func aStrangerCannotTellHiddenWordsFromDecoysByWhatTheNodeSays(_ kind: String) async throws {
        let server = try FakeOpenAI(mode: "echo")
        let engine = kind == "embedded" ? "kind: embedded\n  seed: 3" : "kind: openai\n  url: http://127.0.0.1:\(server.port)/v1\n  model: fake"
        let node = try await RunningNode.start("", home: try Self.node(engine: engine))
        let observations = try await Self.observe(node)
        #expect(observations.count == 100)
        let advantage = DisclosureOracle.advantage(observations)
        print("disclosure oracle against a running node (\(kind) engine): attacker's advantage \(advantage) over 100 guesses")
        #expect(advantage <= 0.1, "advantage \(advantage)")
        if kind == "openai" {
            #expect(observations.allSatisfy { $0.seen.contains("echo:") && $0.seen.contains("⟨guess⟩") }, "the model really echoed the guesses")
        }
        await node.runtime.stop()
    }
}
