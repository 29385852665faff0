import Foundation
import KithCrypto
import KithModel
import KithTestSupport
import Testing

/// Secrets stay secret: key files are private, protected keys need their passphrase, and no
/// secret appears in any log or command output, even at trace level.
@Suite("Secrets", .serialized, .offCooperativePool)
struct SecretTests {
    static let passphrase = "correct horse battery staple 42"

    /// Every text form a secret could leak in.
    static func forms(of bytes: [UInt8]) -> [String] {
        let hex = Hex.encode(bytes)
        return [hex, hex.uppercased(), Data(bytes).base64EncodedString(), Base64URL.encode(bytes), Base58.encode(bytes),
                // Also a 12-byte window of each, in case only part of a secret was printed.
                String(hex.prefix(24)), String(Data(bytes).base64EncodedString().prefix(16))]
    }

    static func secretBytes(_ secret: SecretBytes) -> [UInt8] {
        secret.withUnsafeBytes { Array($0) }
    }

    /// Why `kith run` refused to start (empty when it started).
    static func startFailure(_ home: String, environment: [String: String] = [:]) -> String {
        do {
            let node = try NodeProcess(example: "", home: home, environment: environment)
            _ = node.stop()
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func noSecretAppearsInTraceLogsOrOutputsAndKeyFilesArePrivate() throws {
        let dir = try Fixtures.temporaryDirectory("kith-secrets")
        let lines = (1...12).map { "say: line \($0)" }
        let adaHome = try NodeProcess.scriptedHome("ada", script: lines)
        // Re-key Ada with a passphrase-protected key.
        try FileManager.default.removeItem(atPath: adaHome)
        let yaml = try NodeProcess.scriptedHome("ada", script: lines) + "/identity.yaml"
        let env = ["KITH_PASSPHRASE": Self.passphrase]
        let initialised = try CLI.run(["init", "--home", adaHome, "--from", yaml, "--passphrase"], environment: env)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let cleoHome = try NodeProcess.scriptedHome("cleo", script: lines)

        var outputs: [String] = [initialised.stdout, initialised.stderr]
        let adaLog = dir.appendingPathComponent("ada.log").path, cleoLog = dir.appendingPathComponent("cleo.log").path
        let ada = try NodeProcess(example: "", home: adaHome, extraArguments: ["--log-level", "trace"], environment: env, logFile: adaLog)
        let cleo = try NodeProcess(example: "", home: cleoHome, extraArguments: ["--log-level", "trace"], logFile: cleoLog)
        for args in [["connect", "\(cleo.did)@\(cleo.address)"], ["talk", "\(cleo.did)@\(cleo.address)", "--turns", "6"],
                     ["status", "--json"], ["peers", "--json"], ["conversations", "--json"], ["manifest", "--json"], ["invite"],
                     ["requests"], ["people", "--json"]] {
            let r = try CLI.run(args + ["--home", adaHome, "--log-level", "trace"], environment: env)
            outputs += [r.stdout, r.stderr]
        }
        for home in [adaHome, cleoHome] {
            let r = try CLI.run(["export", "--all", "--home", home, "--out", dir.appendingPathComponent(UUID().uuidString).path], environment: env)
            outputs += [r.stdout, r.stderr]
        }
        #expect(ada.stop() == 0)
        #expect(cleo.stop() == 0)
        // A wrong passphrase is refused without echoing either passphrase.
        let wrong = Self.startFailure(adaHome, environment: ["KITH_PASSPHRASE": "not the passphrase"])
        #expect(wrong.contains("passphrase"), "\(wrong)")
        outputs.append(wrong)
        let logs = try [adaLog, cleoLog].map { try String(contentsOfFile: $0, encoding: .utf8) }
        #expect(logs.allSatisfy { $0.contains("trace") || $0.contains("debug") }, "trace logging was on")
        #expect(logs[1].contains("conversation opened"), "the logs cover a conversation")
        let corpus = (logs + outputs).joined(separator: "\n")

        // The secrets: each node's signing seed and model salt, and Ada's passphrase.
        var secrets: [String: [UInt8]] = [:]
        let adaKeys = try KeyFile.read(from: adaHome + "/identity.key", passphrase: SecretBytes(count: Self.passphrase.utf8.count) {
            $0.copyBytes(from: Array(Self.passphrase.utf8))
        })
        let cleoKeys = try KeyFile.read(from: cleoHome + "/identity.key")
        for (name, keys) in [("ada", adaKeys), ("cleo", cleoKeys)] {
            secrets["\(name) seed"] = Self.secretBytes(keys.signing.seed())
            secrets["\(name) model salt"] = Self.secretBytes(keys.modelSalt)
        }
        for (name, bytes) in secrets {
            for form in Self.forms(of: bytes) { #expect(!corpus.contains(form), "\(name) leaked as \(form)") }
        }
        #expect(!corpus.contains(Self.passphrase), "the passphrase leaked")
        // The check itself can fail: the public key does appear (in dids and manifests).
        #expect(corpus.contains(Base58.encode([0xed, 0x01] + adaKeys.signing.publicKey.bytes)))

        // Key files are private, and a readable one is refused with a fix.
        for home in [adaHome, cleoHome] {
            let mode = try FileManager.default.attributesOfItem(atPath: home + "/identity.key")[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: cleoHome + "/identity.key")
        let refused = Self.startFailure(cleoHome)
        #expect(refused.contains("chmod 600"), "\(refused)")
    }
}
