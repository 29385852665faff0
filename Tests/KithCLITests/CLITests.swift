import Foundation
import KithModel
import KithTestSupport
import Testing

@Suite("kith CLI", .serialized, .offCooperativePool)
struct CLITests {
    static func home() throws -> String {
        try Fixtures.temporaryDirectory("kith-cli").appendingPathComponent("home").path
    }

    @Test func initIdManifestExportAndVerifyWorkEndToEnd() throws {
        let home = try Self.home()
        let ada = Fixtures.repoFile("Examples/ada.yaml").path
        let initResult = try CLI.run(["init", "--home", home, "--from", ada])
        #expect(initResult.status == 0, "\(initResult.stderr)")
        let did = initResult.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Identity(did: did).did == did)
        #expect(initResult.stderr.contains("Next:"))

        #expect(try CLI.run(["id", "--home", home]).stdout == did + "\n")

        let json = try CLI.run(["manifest", "--json", "--home", home])
        #expect(json.status == 0)
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(fields["id"] as? String == did)
        // The seq is the signing time in ms (above anything signed before).
        let seq = try #require(fields["seq"] as? Int)
        #expect(abs(seq - Int(Date().timeIntervalSince1970 * 1000)) < 120_000, "\(seq)")
        #expect(fields["name"] as? String == "Ada")
        #expect((fields["interests"] as? [String])?.contains("climbing") == true)

        let text = try CLI.run(["manifest", "--home", home])
        #expect(text.stdout.contains("signature ok"))

        let out = URL(fileURLWithPath: home).deletingLastPathComponent().appendingPathComponent("ada.manifest.json").path
        let export = try CLI.run(["manifest", "export", "--out", out, "--home", home])
        #expect(export.status == 0, "\(export.stderr)")
        let verify = try CLI.run(["verify", out])
        #expect(verify.status == 0)
        #expect(verify.stdout.contains("valid manifest: Ada \(did) seq \(seq)"))

        // Single-byte changes through the real command: a sample across the file.
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        let tampered = URL(fileURLWithPath: out + ".tampered")
        for i in stride(from: 0, to: original.count, by: max(1, original.count / 25)) {
            var changed = original
            changed[i] ^= 0x01
            try Data(changed).write(to: tampered)
            let result = try CLI.run(["verify", tampered.path])
            #expect(result.status == 1, "byte \(i) changed but verify accepted it")
            #expect(result.stderr.hasPrefix("invalid: "))
        }
    }

    @Test func editingThePublicProfileResignsWithAHigherSeq() throws {
        let home = try Self.home()
        #expect(try CLI.run(["init", "--home", home, "--name", "Ben"]).status == 0)
        let before = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["manifest", "--json", "--home", home]).stdout.utf8))
            as? [String: Any])?["seq"] as? Int
        let yamlPath = home + "/identity.yaml"
        let yaml = try String(contentsOfFile: yamlPath, encoding: .utf8)
            .replacingOccurrences(of: "interests: []", with: "interests: [baking, jazz]")
        try yaml.write(toFile: yamlPath, atomically: true, encoding: .utf8)
        let json = try CLI.run(["manifest", "--json", "--home", home])
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((fields["seq"] as? Int ?? 0) > (before ?? .max))
        #expect(fields["interests"] as? [String] == ["baking", "jazz"])
    }

    @Test func passphraseProtectedInitAndUse() throws {
        let home = try Self.home()
        let env = ["KITH_PASSPHRASE": "correct horse battery"]
        #expect(try CLI.run(["init", "--home", home, "--name", "Pat", "--passphrase"], environment: env).status == 0)
        let locked = try CLI.run(["manifest", "--home", home])
        #expect(locked.status != 0)
        #expect(locked.stderr.contains("KITH_PASSPHRASE"))
        let wrong = try CLI.run(["manifest", "--home", home], environment: ["KITH_PASSPHRASE": "wrong horse battery"])
        #expect(wrong.stderr.contains("wrong passphrase"))
        #expect(try CLI.run(["manifest", "--home", home], environment: env).status == 0)
        #expect(try CLI.run(["id", "--home", home]).status == 0, "kith id needs no passphrase")
    }

    @Test func errorsTellTheUserWhatToDoNext() throws {
        let home = try Self.home()
        let missing = try CLI.run(["manifest", "--home", home])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("kith init"))
        #expect(try CLI.run(["init", "--home", home, "--name", "Ada"]).status == 0)
        #expect(chmod(home + "/identity.key", 0o644) == 0)
        let open = try CLI.run(["manifest", "--home", home])
        #expect(open.stderr.contains("chmod 600"))
        let badFile = try CLI.run(["verify", home + "/nope.json"])
        #expect(badFile.status != 0)
        #expect(badFile.stderr.contains("cannot read"))
    }

    @Test(arguments: [[], ["init"], ["id"], ["manifest"], ["manifest", "export"], ["verify"], ["run"], ["dashboard"], ["status"], ["invite"], ["resolve"],
                      ["connect"], ["peers"], ["requests"], ["accept"], ["decline"], ["unfriend"], ["people"], ["show"], ["reload"],
                      ["bench"], ["simulate"]])
    func everyCommandHasHelp(command: [String]) throws {
        let result = try CLI.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
    }
}
