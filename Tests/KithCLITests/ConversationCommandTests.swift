import Foundation
import KithModel
import KithStore
import KithTestSupport
import Testing

@Suite("Conversations over the CLI", .serialized, .offCooperativePool)
struct ConversationCommandTests {
    static func json(_ args: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try CLI.run(args).stdout.utf8))
    }

    @Test func escapeSequencesAPeerWritesNeverReachThePersonsTerminal() throws {
        let ada = try NodeProcess(example: "ada", home: try NodeProcess.scriptedHome("ada", script: ["say: hi", "close: bye"]))
        let cleo = try NodeProcess(example: "cleo", home: try NodeProcess.scriptedHome("cleo", script: [
            "say: \u{1b}]0;pwned\u{07}\u{1b}[2Jhello\u{9b}31m",
        ]))
        let talk = try CLI.run(["talk", "--home", ada.home, "\(cleo.did)@\(cleo.address)", "--turns", "3"])
        #expect(talk.status == 0, "\(talk.stdout)\(talk.stderr)")
        #expect(talk.stdout.contains("hello") && !talk.stdout.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 || $0.value == 0x9b })
        let conv = try #require((try Self.json(["conversations", "--json", "--home", ada.home]) as? [[String: Any]])?.first?["id"] as? String)
        let log = try CLI.run(["log", conv, "--home", ada.home]).stdout
        #expect(log.contains("hello") && !log.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 }, "\(log)")
    }

    @Test func twoNodesConverseWithScriptsAndBothExportsAreIdenticalAndAudit() throws {
        let ada = try NodeProcess(example: "ada", home: try NodeProcess.scriptedHome("ada", script: [
            "say: Hi Cleo! Ben says you write poems about estuary birds.",
            "propose: We should connect.",
        ]))
        let cleo = try NodeProcess(example: "cleo", home: try NodeProcess.scriptedHome("cleo", script: [
            "say: Hello Ada! Herons, mostly.",
            "accept: Gladly.",
            "close: Talk soon.",
        ]))
        let talk = try CLI.run(["talk", "--home", ada.home, "\(cleo.did)@\(cleo.address)", "--topic", "poetry", "--turns", "6"])
        #expect(talk.status == 0, "\(talk.stdout)\(talk.stderr)")
        #expect(talk.stdout.contains("#1 you (your AI): Hi Cleo!"))
        #expect(talk.stdout.contains("#4 Cleo [accept]: Gladly."))
        #expect(talk.stdout.contains("complete: sealed by both"))

        let list = try #require(try Self.json(["conversations", "--json", "--home", ada.home]) as? [[String: Any]])
        let conv = try #require(list.first?["id"] as? String)
        #expect(conv.count == 64 && list.first?["with"] as? String == cleo.did && list.first?["topic"] as? String == "poetry")
        #expect(list.first?["entries"] as? Int == 5 && list.first?["state"] as? String == "complete")

        let dir = try Fixtures.temporaryDirectory("kith-export")
        let a = dir.appendingPathComponent("a.kithlog").path, c = dir.appendingPathComponent("c.kithlog").path
        #expect(try CLI.run(["export", String(conv.prefix(10)), "--out", a, "--home", ada.home]).status == 0)
        #expect(try CLI.run(["export", conv, "--out", c, "--home", cleo.home]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a)) == Data(contentsOf: URL(fileURLWithPath: c)), "both exports are identical")
        #expect(try CLI.run(["audit", a]).status == 0)
        #expect(try CLI.run(["audit", "--all", "--home", cleo.home]).status == 0)
        let md = dir.appendingPathComponent("a.md").path
        #expect(try CLI.run(["export", conv, "--format", "md", "--out", md, "--home", ada.home]).status == 0)
        #expect(try String(contentsOfFile: md, encoding: .utf8).contains("**Cleo** _(accept)_: Gladly."))
        #expect(try CLI.run(["log", String(conv.prefix(8)), "--home", cleo.home]).stdout.contains("Sealed by Ada"))

        // Tampering with the file is caught, with the record named.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: a)))
        let lines = bytes.split(separator: 0x0a)
        let thirdEntryStart = lines[0..<4].reduce(0) { $0 + $1.count + 1 }
        bytes[thirdEntryStart + 30] ^= 0x01
        let tampered = dir.appendingPathComponent("t.kithlog").path
        try Data(bytes).write(to: URL(fileURLWithPath: tampered))
        let audit = try CLI.run(["audit", tampered, "--json"])
        #expect(audit.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
        let problems = try #require(report["problems"] as? [[String: Any]])
        #expect(problems.first?["record"] as? String == "entry 3" || (problems.first?["record"] as? String)?.hasPrefix("file line") == true)

        if let python = InteropTests.python {
            let py = try CLI.run(URL(fileURLWithPath: python), [Fixtures.repoFile("Tests/Interop/kithlog_verify.py").path, a])
            #expect(py.status == 0, "\(py.stdout)\(py.stderr)")
            #expect(py.stdout.contains("\"entries\": 5"))
            #expect(try CLI.run(URL(fileURLWithPath: python), [Fixtures.repoFile("Tests/Interop/kithlog_verify.py").path, tampered]).status == 1)
        }
        #expect(ada.stop() == 0)
        #expect(cleo.stop() == 0)
    }

    @Test func aPolicyRefusalIsASignedDeclineAtSeq2() throws {
        let ada = try NodeProcess(example: "ada", home: try NodeProcess.scriptedHome("ada", script: ["say: Hello stranger!"]))
        let ben = try NodeProcess(example: "ben", home: try NodeProcess.scriptedHome("ben", script: ["say: hi"], converse: "friends"))
        let talk = try CLI.run(["talk", "--home", ada.home, "\(ben.did)@\(ben.address)"])
        #expect(talk.stdout.contains("[decline]: My person only lets me talk with friends."), "\(talk.stdout)")
        // The refused stranger learns nothing of Ben's profile, not even his name.
        #expect(!talk.stdout.contains("Ben"), "\(talk.stdout)")
        #expect(talk.stdout.contains("complete"))
        #expect(try CLI.run(["audit", "--all", "--home", ada.home]).status == 0)
        _ = ada.stop()
        _ = ben.stop()
    }
}

extension ConversationCommandTests {
    @Test func anInterruptedConversationCanBeClosedAndSealedAsIncomplete() throws {
        let lines = (1...100).map { "say: line \($0)" }
        let ada = try NodeProcess(example: "ada", home: try NodeProcess.scriptedHome("ada", script: lines))
        let cleoLog = try Fixtures.temporaryDirectory("kith-log").appendingPathComponent("cleo.log").path
        let cleo = try NodeProcess(example: "cleo", home: try NodeProcess.scriptedHome("cleo", script: lines),
                                   extraArguments: ["--log-level", "info"], logFile: cleoLog)
        let talk = ChildProcess()
        talk.executableURL = CLI.executable
        talk.arguments = ["talk", "--home", ada.home, "\(cleo.did)@\(cleo.address)", "--turns", "200"]
        talk.standardOutput = FileHandle.nullDevice
        talk.standardError = FileHandle.nullDevice
        try talk.runUnblocked()
        // Kill Cleo's node as soon as it logs the conversation.
        let deadline = Date().addingTimeInterval(20 * Fixtures.timeScale)
        while !((try? String(contentsOfFile: cleoLog, encoding: .utf8))?.contains("conversation opened") ?? false) && Date() < deadline {
            usleep(2_000)
        }
        kill(cleo.process.processIdentifier, SIGKILL)
        cleo.process.waitUntilExit()
        let conv = (try Self.json(["conversations", "--json", "--home", ada.home]) as? [[String: Any]])?.first?["id"] as? String
        let id = try #require(conv)
        usleep(useconds_t(200_000 * Fixtures.timeScale))
        let state = (try Self.json(["conversations", "--json", "--home", ada.home]) as? [[String: Any]])?.first?["state"] as? String
        #expect(state == "open", "the kill landed mid-conversation")
        do {
            let close = try CLI.run(["close", String(id.prefix(12)), "--home", ada.home, "--reason", "Cleo's node went away."])
            #expect(close.stdout.hasPrefix("ended:"), "\(close.stdout)\(close.stderr)")
            let audit = try CLI.run(["audit", id, "--home", ada.home])
            #expect(audit.status == 1)
            #expect(audit.stdout.contains("missing the seal"))
            #expect(try CLI.run(["audit", id, "--allow-open", "--home", ada.home]).status == 0)
            #expect(try CLI.run(["close", id, "--home", ada.home]).status == 0, "closing again only re-seals")
        }
        talk.terminate()
        _ = ada.stop()
    }
}

enum ControlAcks {
    /// The running node's view of what its peers hold, from `kith status --json`.
    static func acked(home: String) throws -> [String: UInt64] {
        let data = Data(try CLI.run(["status", "--home", home, "--json"]).stdout.utf8)
        let status = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (status?["acknowledged"] as? [String: Int] ?? [:]).mapValues { UInt64($0) }
    }
}

enum SQLiteCheck {
    static func integrity(_ path: String) throws -> String {
        try Store(path: path).integrityCheck()
    }
}

@Suite("kith demo", .serialized, .offCooperativePool)
struct DemoCommandTests {
    @Test func theDemoMeetsTalksConnectsAndAuditsWithinSeconds() throws {
        let dir = try Fixtures.temporaryDirectory("kith-demo").path
        let started = Date()
        let demo = try CLI.run(["demo", "--dir", dir])
        #expect(demo.status == 0, "\(demo.stdout)\(demo.stderr)")
        #expect(demo.stdout.contains("Ada's node now knows Cleo (2 hops"))
        #expect(demo.stdout.contains("Ada met Cleo through their mutual friend Ben (2 hops), who introduced them."), "\(demo.stdout)")
        #expect(demo.stdout.contains("[propose]") && demo.stdout.contains("[accept]"))
        #expect(demo.stdout.contains("Ada and Cleo are now friends"))
        #expect(demo.stdout.contains("Audits: all transcripts valid · exports byte-identical: yes"))
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(try CLI.run(["audit", dir + "/ada-conversation.kithlog"]).status == 0)
    }
}

@Suite("kith chat", .serialized, .offCooperativePool)
struct ChatCommandTests {
    @Test func aPersonTalksToSomeonesAIAndTheTranscriptAudits() throws {
        let dir = try Fixtures.temporaryDirectory("kith-chat")
        let yaml = try String(contentsOf: Fixtures.repoFile("Examples/cleo.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "converse: fof", with: "converse: anyone")
        try yaml.write(to: dir.appendingPathComponent("cleo.yaml"), atomically: true, encoding: .utf8)
        let cleoHome = dir.appendingPathComponent("cleo").path
        #expect(try CLI.run(["init", "--home", cleoHome, "--from", dir.appendingPathComponent("cleo.yaml").path]).status == 0)
        let cleo = try NodeProcess(example: "cleo", home: cleoHome)
        let ada = try NodeProcess(example: "ada")
        let typed = "Hi! I'm Ada herself. Do you like climbing?\nWhat poems do you write?\n/close Thanks, lovely to meet you.\n"
        let chat = try CLI.run(["chat", "--home", ada.home, "\(cleo.did)@\(cleo.address)", "--topic", "meeting Cleo"], stdin: Data(typed.utf8))
        #expect(chat.status == 0, "\(chat.stdout)\(chat.stderr)")
        #expect(chat.stdout.contains("Cleo's AI here"), "\(chat.stdout)")
        #expect(chat.stdout.contains("complete: sealed by both"))
        let list = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["conversations", "--json", "--home", ada.home]).stdout.utf8)) as? [[String: Any]])
        let conv = try #require(list.first?["id"] as? String)
        let audit = try CLI.run(["audit", conv, "--home", cleo.home])
        #expect(audit.status == 0)
        // Each side's entries say who produced them: Ada typed hers, Cleo's AI wrote Cleo's.
        #expect(audit.stdout.contains("\(ada.did): 3 by person"), "\(audit.stdout)")
        #expect(audit.stdout.contains("\(cleo.did): 2 by ai (embedded)"), "\(audit.stdout)")
        let log = try CLI.run(["log", conv, "--home", cleo.home]).stdout
        #expect(log.contains("Hi! I'm Ada herself."), "the person's own words are in the signed log")
        #expect(log.contains("by person") && log.contains("by ai (embedded)"), "\(log)")
        _ = ada.stop()
        _ = cleo.stop()
    }
}
