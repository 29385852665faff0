import Foundation
import KithModel
import KithTestSupport
import Testing

/// Interop with an independent implementation: Python's cbor2 (canonical mode) and
/// cryptography (Ed25519 on OpenSSL, not libsodium), written from Protocol/ alone.
/// Needs `$KITH_INTEROP_PYTHON` (set by .ci/run); in CI its absence is a failure.
@Suite("Interop with Python (cbor2 + cryptography)", .serialized, .offCooperativePool)
struct InteropTests {
    static let python = ProcessInfo.processInfo.environment["KITH_INTEROP_PYTHON"]
    static let script = Fixtures.repoFile("Tests/Interop/manifest_interop.py").path

    @Test func interpreterIsAvailableInCI() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(Self.python != nil, "CI must set KITH_INTEROP_PYTHON (see .ci/run)")
        }
    }

    @Test(.enabled(if: python != nil)) func pythonVerifiesAManifestExportedByKith() throws {
        let dir = try Fixtures.temporaryDirectory("kith-interop")
        let home = dir.appendingPathComponent("home").path
        let initResult = try CLI.run(["init", "--home", home, "--from", Fixtures.repoFile("Examples/cleo.yaml").path])
        #expect(initResult.status == 0)
        let out = dir.appendingPathComponent("cleo.json").path
        #expect(try CLI.run(["manifest", "export", "--out", out, "--home", home]).status == 0)
        let kithJSON = try CLI.run(["manifest", "--json", "--home", home]).stdout
        let kith = try #require(try JSONSerialization.jsonObject(with: Data(kithJSON.utf8)) as? [String: Any])

        let py = try CLI.run(URL(fileURLWithPath: Self.python!), [Self.script, "verify", out])
        #expect(py.status == 0, "\(py.stderr)")
        let checked = try #require(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [String: Any])
        #expect(checked["did"] as? String == kith["id"] as? String)
        #expect(checked["hash"] as? String == kith["hash"] as? String)
        #expect(checked["name"] as? String == "Cleo")

        // Python must also reject a tampered copy.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        #expect(try CLI.run(URL(fileURLWithPath: Self.python!), [Self.script, "verify", out]).status != 0)
    }

    @Test(.enabled(if: python != nil)) func pythonChecksTheProtocolVectorsIncludingOpenSSLSignatures() throws {
        let py = try CLI.run(URL(fileURLWithPath: Self.python!), [Self.script, "vectors", Fixtures.repoFile("Protocol/vectors/manifests.json").path])
        #expect(py.status == 0, "\(py.stderr)")
        #expect(py.stdout.contains("\"valid\": 3, \"rejected\": 15"))
    }

    @Test(.enabled(if: python != nil)) func pythonAuditsTheConversationVectorFromTheSpecAlone() throws {
        let script = Fixtures.repoFile("Tests/Interop/kithlog_verify.py").path
        let vector = Fixtures.repoFile("Protocol/vectors/conversation.kithlog").path
        let py = try CLI.run(URL(fileURLWithPath: Self.python!), [script, vector])
        #expect(py.status == 0, "\(py.stdout)\(py.stderr)")
        #expect(py.stdout.contains("\"entries\": 5"))
        #expect(py.stdout.contains(": person\": 1") && py.stdout.contains("ai (openai/smollm2-135m)\": 1"), "\(py.stdout)")
        // The kithlog/1 export of an earlier version still audits.
        let legacy = try CLI.run(URL(fileURLWithPath: Self.python!), [script, Fixtures.repoFile("Protocol/vectors/conversation-v1.kithlog").path])
        #expect(legacy.status == 0, "\(legacy.stdout)")
        // A rewritten readable text fails both auditors.
        let tampered = try Fixtures.temporaryDirectory("kithlog").appendingPathComponent("tampered.kithlog").path
        let text = try String(contentsOfFile: vector, encoding: .utf8).replacingOccurrences(of: #""text":"Gladly.""#, with: #""text":"Never.""#)
        try text.write(toFile: tampered, atomically: true, encoding: .utf8)
        let rejected = try CLI.run(URL(fileURLWithPath: Self.python!), [script, tampered])
        #expect(rejected.status == 1 && rejected.stdout.contains("view of entry 4"), "\(rejected.stdout)")
        let kith = try CLI.run(["audit", tampered])
        #expect(kith.status == 1 && kith.stdout.contains("view does not match"), "\(kith.stdout)")
    }

    @Test(.enabled(if: python != nil)) func kithVerifiesAManifestMadeByPython() throws {
        let out = try Fixtures.temporaryDirectory("kith-interop").appendingPathComponent("py.json").path
        let py = try CLI.run(URL(fileURLWithPath: Self.python!), [Self.script, "make", out])
        #expect(py.status == 0, "\(py.stderr)")
        let made = try #require(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [String: Any])
        let verify = try CLI.run(["verify", out])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains(try #require(made["did"] as? String)))
        #expect(verify.stdout.contains(try #require(made["hash"] as? String)))
    }
}

/// Interop with the Python `noiseprotocol` package (Noise over OpenSSL) as initiator against a
/// running `kith run`.
@Suite("Interop with Python noiseprotocol", .serialized, .offCooperativePool)
struct NoiseInteropTests {
    @Test(.enabled(if: InteropTests.python != nil)) func pythonHandshakesProvesAnIdentityAndLearnsNothingButTheNetwork() throws {
        let node = try NodeProcess(example: "ada")
        let script = Fixtures.repoFile("Tests/Interop/noise_interop.py").path
        let py = try CLI.run(URL(fileURLWithPath: InteropTests.python!), [script, "127.0.0.1", "\(node.port)", node.did])
        #expect(py.status == 0, "\(py.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [String: Any])
        #expect(summary["responder"] as? String == node.did)
        // A stranger's manifest-request got nothing: the first answer is the request's.
        #expect(summary["reply"] as? String == "friend-pending")
        // The node stored the Python identity's request, with its manifest.
        let requests = try CLI.run(["requests", "--home", node.home, "--json"]).stdout
        let list = try #require(try JSONSerialization.jsonObject(with: Data(requests.utf8)) as? [[String: Any]])
        #expect(list.first?["id"] as? String == summary["me"] as? String)
        #expect(list.first?["name"] as? String == "Pyra")

        // Expecting a different identity, the Python client must abort.
        let other = NodeKeysForTests.randomDID()
        let refused = try CLI.run(URL(fileURLWithPath: InteropTests.python!), [script, "127.0.0.1", "\(node.port)", other])
        #expect(refused.status != 0)
        #expect(node.stop() == 0)
    }
}

enum NodeKeysForTests {
    static func randomDID() -> String { NodeKeys.generate().identity.did }
}
