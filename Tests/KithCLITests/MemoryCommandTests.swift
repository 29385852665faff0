import Foundation
import KithTestSupport
import Testing

/// `kith memories` and `kith disclosures` end to end, with a peer that names itself with escape
/// sequences and a line break.
@Suite("Memories and disclosures over the CLI", .serialized, .offCooperativePool)
struct MemoryCommandTests {
    /// A home from `example` with `edits` applied to its identity.yaml.
    static func home(_ example: String, edits: [(String, String)]) throws -> String {
        let dir = try Fixtures.temporaryDirectory("kith-memories")
        var yaml = try String(contentsOf: Fixtures.repoFile("Examples/\(example).yaml"), encoding: .utf8)
        for (from, to) in edits { yaml = yaml.replacingOccurrences(of: from, with: to) }
        let model = dir.appendingPathComponent("\(example).yaml").path
        try yaml.write(toFile: model, atomically: true, encoding: .utf8)
        let home = dir.appendingPathComponent("home").path
        let result = try CLI.run(["init", "--home", home, "--from", model])
        #expect(result.status == 0, "\(result.stderr)")
        return home
    }

    @Test func disclosuresNameEditedMemoriesAndNeverPassAPeersEscapesToTheTerminal() throws {
        let ada = try NodeProcess(example: "ada", home: try Self.home("ada", edits: [("converse: friends", "converse: anyone"), ("converse: fof", "converse: anyone")]))
        let dir = try Fixtures.temporaryDirectory("kith-memories-script")
        let script = dir.appendingPathComponent("cleo.script").path
        try "say: Hello! What do you climb?\nsay: Lovely.\nclose: Bye.\n".write(toFile: script, atomically: true, encoding: .utf8)
        let cleo = try NodeProcess(example: "cleo", home: try Self.home("cleo", edits: [
            ("name: Cleo", #"name: "Cleo\e]0;pwned\a\e[2J\n2026-01-01 00:00  FAKE""#),
            ("kind: embedded", "kind: script\n  script: \(script)"), ("converse: fof", "converse: anyone"),
        ]))
        let talk = try CLI.run(["talk", "--home", ada.home, "\(cleo.did)@\(cleo.address)", "--turns", "6"])
        #expect(talk.status == 0, "\(talk.stdout)\(talk.stderr)")

        let listed = try CLI.run(["disclosures", "--home", ada.home])
        #expect(listed.status == 0 && listed.stdout.contains("Cleo") && listed.stdout.contains("said (public)"), "\(listed.stdout)")
        #expect(!listed.stdout.unicodeScalars.contains { $0.value == 0x1b || $0.value == 0x07 }, "no escape sequence reaches the terminal")
        #expect(!listed.stdout.split(separator: "\n").contains { $0.hasPrefix("2026-01-01") }, "a peer's name cannot start a line of its own")

        // Narrow a disclosed memory to friends: it stays named, as said in public and friends-only now.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(CLI.run(["disclosures", "--json", "--home", ada.home]).stdout.utf8)) as? [[String: Any]])
        let text = try #require(json.first?["text"] as? String)
        let memories = try #require(try JSONSerialization.jsonObject(with: Data(CLI.run(["memories", "--json", "--home", ada.home]).stdout.utf8)) as? [[String: Any]])
        let n = try #require(memories.first { $0["text"] as? String == text }?["n"] as? Int)
        let set = try CLI.run(["memories", "set", "\(n)", "--visibility", "friends", "--home", ada.home])
        #expect(set.status == 0, "\(set.stderr)")
        let after = try CLI.run(["disclosures", "--home", ada.home]).stdout
        #expect(after.contains("said (public, friends now) \(text)"), "\(after)")
        #expect(ada.stop() == 0)
        #expect(cleo.stop() == 0)
    }
}
