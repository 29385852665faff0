import Foundation
import KithTestSupport
import Testing

/// `kill -9` at random moments while two nodes converse and gossip, over and over: after each
/// crash the killed node's database is intact, holds everything its peer saw acknowledged, never
/// re-signs an older manifest seq, audits, and the conversation then resumes and completes.
@Suite("Crash loop", .serialized, .offCooperativePool)
struct CrashLoopTests {
    static let trials = 24

    static func json(_ args: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try CLI.run(args).stdout.utf8))
    }

    static func conversation(_ conv: String, home: String) throws -> [String: Any]? {
        (try json(["conversations", "--json", "--home", home]) as? [[String: Any]])?.first { $0["id"] as? String == conv }
    }

    static func setBio(_ home: String, _ bio: String) throws {
        let path = home + "/identity.yaml"
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        try lines.map { $0.hasPrefix("bio:") ? "bio: \(bio)" : String($0) }.joined(separator: "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func killNineDuringConversationsAndGossipLosesNothingAcknowledged() throws {
        let lines = (1...220).map { "say: line \($0) " + String(repeating: "words ", count: 12) }
        var homes = [try NodeProcess.scriptedHome("ada", script: lines), try NodeProcess.scriptedHome("cleo", script: lines)]
        for home in homes {
            let yaml = home + "/identity.yaml"
            // Every trial is a new conversation: more than the default daily limit, which would
            // refuse (and keep nothing of) the later ones.
            try String(contentsOfFile: yaml, encoding: .utf8).replacingOccurrences(of: "connect: ask", with: "connect: auto")
                .replacingOccurrences(of: "daily_conversations: 20", with: "daily_conversations: 1000")
                .write(toFile: yaml, atomically: true, encoding: .utf8)
        }
        // Info-level logs in files: the loop watches Cleo's for "conversation opened" to time its kills.
        let logs = try (0..<2).map { try Fixtures.temporaryDirectory("kith-crash").appendingPathComponent("node\($0).log").path }
        func start(_ i: Int, listen: String = "127.0.0.1:0") throws -> NodeProcess {
            try NodeProcess(example: "", home: homes[i], extraArguments: ["--log-level", "info"], listen: listen, logFile: logs[i] + ".\(UUID())")
        }
        var nodes = [try start(0), try start(1)]
        func opened() -> Int {
            let folder = (logs[1] as NSString).deletingLastPathComponent
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return files.reduce(0) { total, name in
                let text = (try? String(contentsOfFile: folder + "/" + name, encoding: .utf8)) ?? ""
                return total + text.components(separatedBy: "conversation opened").count - 1
            }
        }
        let addresses = nodes.map(\.address), dids = nodes.map(\.did)
        #expect(try CLI.run(["connect", "--home", homes[0], "\(dids[1])@\(addresses[1])"]).stdout.hasPrefix("accepted"))

        var interrupted = 0, completed = 0, gossipChecks = 0
        for trial in 0..<Self.trials {
            let v = trial % 2, s = 1 - v          // the victim alternates between the two nodes
            // Gossip: both re-sign their manifests while the conversation runs.
            try Self.setBio(homes[0], "Ada, crash trial \(trial)")
            try Self.setBio(homes[1], "Cleo, crash trial \(trial)")
            let talk = ChildProcess()
            talk.executableURL = CLI.executable
            talk.arguments = ["talk", "--home", homes[0], "\(dids[1])@\(addresses[1])", "--topic", "trial \(trial)", "--turns", "200"]
            talk.standardOutput = FileHandle.nullDevice
            talk.standardError = FileHandle.nullDevice
            _ = try CLI.run(["reload", "--home", homes[v]])
            let before = opened()
            try talk.runUnblocked()
            // Kill as soon as Cleo's node logs the new conversation, plus a random 0–40 ms.
            let deadline = Date().addingTimeInterval(20 * Fixtures.timeScale)
            while opened() == before && Date() < deadline { usleep(2_000) }
            usleep(useconds_t.random(in: 0...40_000))
            kill(nodes[v].process.processIdentifier, SIGKILL)
            nodes[v].process.waitUntilExit()
            _ = try CLI.run(["reload", "--home", homes[s]])
            var conv: String?
            for _ in 0..<100 where conv == nil {
                let list = try Self.json(["conversations", "--json", "--home", homes[s]]) as? [[String: Any]]
                conv = list?.first { $0["topic"] as? String == "trial \(trial)" }?["id"] as? String
                if conv == nil { usleep(20_000) }
            }
            let id = try #require(conv, "trial \(trial): the conversation never started")

            // The survivor's view: what the victim acknowledged (or wrote), and its manifest seq.
            let acked = (try? ControlAcks.acked(home: homes[s])[id]) ?? 0
            let seenSeq = (try? Self.json(["show", dids[v], "--json", "--home", homes[s]]) as? [String: Any])?["seq"] as? Int ?? 0

            // The victim's files after the crash.
            #expect(try SQLiteCheck.integrity(homes[v] + "/kith.db") == "ok", "trial \(trial)")
            let held = try Self.conversation(id, home: homes[v])?["entries"] as? Int ?? 0
            #expect(UInt64(held) >= acked, "trial \(trial): the peer saw \(acked) entries acknowledged but the victim holds \(held)")
            let audit = try CLI.run(["audit", "--all", "--allow-open", "--home", homes[v]])
            #expect(audit.status == 0, "trial \(trial): \(audit.stdout)\(audit.stderr)")
            let ownSeq = (try Self.json(["manifest", "--json", "--home", homes[v]]) as? [String: Any])?["seq"] as? Int ?? -1
            #expect(ownSeq >= seenSeq, "trial \(trial): the victim would re-sign seq \(seenSeq) (equivocation)")
            if seenSeq > 0 { gossipChecks += 1 }
            if UInt64(held) < 201 { interrupted += 1 }

            // Restarted on the same address, the conversation resumes and completes on both sides.
            nodes[v] = try start(v, listen: addresses[v])
            var states = ["", ""]
            for _ in 0..<Int(200 * Fixtures.timeScale) where states != ["complete", "complete"] {
                states = try homes.map { try Self.conversation(id, home: $0)?["state"] as? String ?? "" }
                if states != ["complete", "complete"] { usleep(50_000) }
            }
            #expect(states == ["complete", "complete"], "trial \(trial): \(states)")
            if states == ["complete", "complete"] { completed += 1 }
            talk.terminate()
            talk.waitUntilExit()
        }
        // Every conversation ever held audits complete on both nodes, and neither flags the other
        // as equivocating.
        for (i, home) in homes.enumerated() {
            let audit = try CLI.run(["audit", "--all", "--home", home])
            #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
            let people = try Self.json(["people", "--json", "--home", home]) as? [[String: Any]]
            let flags = people?.first { $0["id"] as? String == dids[1 - i] }?["flags"] as? [String]
            #expect(flags == ["friend"], "\(flags ?? [])")
        }
        print("crash loop: \(Self.trials) kill -9 trials, \(interrupted) mid-conversation, \(completed) resumed to completion, "
              + "\(gossipChecks) manifest-seq checks")
        #expect(completed == Self.trials)
        #expect(interrupted >= Self.trials / 2, "most kills landed mid-conversation (\(interrupted))")
        #expect(gossipChecks >= Self.trials / 2)
        for node in nodes { _ = node.stop() }
        homes.removeAll()
    }
}
