import Foundation
import KithCrypto
import KithModel
import KithNode
import KithStore
import KithTestSupport
import Testing

@Suite("Node home")
struct NodeHomeTests {
    static func freshHome() throws -> NodeHome {
        NodeHome(path: try Fixtures.temporaryDirectory("kith-home").appendingPathComponent("node").path)
    }

    static let ada = Fixtures.repoFile("Examples/ada.yaml").path

    @Test func initCreatesAPrivateFolderKeyModelAndFirstManifest() throws {
        let home = try Self.freshHome()
        let context = try NodeHome.initialise(at: home, name: nil, modelSource: Self.ada, network: "main", passphrase: nil, now: 1_000)
        let folderMode = try FileManager.default.attributesOfItem(atPath: home.path)[.posixPermissions] as? Int
        #expect(folderMode == 0o700)
        #expect(try String(contentsOfFile: home.modelFile, encoding: .utf8) == String(contentsOfFile: Self.ada, encoding: .utf8))
        let stored = try context.currentManifest(now: 2_000)
        #expect(stored.manifest.seq == 1_000, "the seq is the signing time")
        #expect(stored.manifest.name == "Ada")
        #expect(stored.manifest.model == context.model.commitment(salt: context.keys.modelSalt))
        #expect(stored.manifest.net == NetworkID.main)
        #expect(throws: NodeError.self) {
            try NodeHome.initialise(at: home, name: "Again", modelSource: nil, network: "main", passphrase: nil)
        }
    }

    @Test func manifestIsResignedOnlyWhenThePublicProjectionChanges() throws {
        let home = try Self.freshHome()
        _ = try NodeHome.initialise(at: home, name: nil, modelSource: Self.ada, network: "main", passphrase: nil, now: 1_000)
        var context = try home.open(passphrase: nil)
        #expect(try context.currentManifest(now: 5_000).manifest.seq == 1_000, "unchanged model: same manifest")

        // A new private memory publishes nothing: it never reaches an engine.
        let yaml = try String(contentsOfFile: home.modelFile, encoding: .utf8)
        try yaml.replacingOccurrences(of: "memories:\n", with: "memories:\n  - text: A new secret.\n    visibility: private\n")
            .write(toFile: home.modelFile, atomically: true, encoding: .utf8)
        context = try home.open(passphrase: nil)
        #expect(try context.currentManifest(now: 5_500).manifest.seq == 1_000, "a private edit signs nothing new")

        // A new friends-only memory changes the commitment, so the manifest is re-signed.
        try yaml.replacingOccurrences(of: "memories:\n", with: "memories:\n  - text: A new story for friends.\n    visibility: friends\n")
            .write(toFile: home.modelFile, atomically: true, encoding: .utf8)
        context = try home.open(passphrase: nil)
        let second = try context.currentManifest(now: 6_000)
        #expect(second.manifest.seq == 6_000)
        #expect(second.manifest.ts == 6_000)
        #expect(!String(decoding: second.object.bytes, as: UTF8.self).contains("A new story"), "memory text never enters the manifest")
        #expect(second.manifest.endpoints.isEmpty, "addresses go to friends only, never into the manifest")

        // Near expiry re-signs.
        let nearExpiry = 6_000 + NodeContext.manifestLifetime - NodeContext.manifestRenewal + 1
        #expect(try context.currentManifest(now: nearExpiry).manifest.seq == nearExpiry)

        // A clock that went back still moves the seq forward, and a seq a friend holds is passed.
        let third = try context.currentManifest(now: 2_000, heldElsewhere: nearExpiry + 10)
        #expect(third.manifest.seq == nearExpiry + 11)
        #expect(try context.currentManifest(now: 2_000, heldElsewhere: nearExpiry).manifest.seq == nearExpiry + 11, "nothing new to sign")
    }

    @Test func passphraseProtectedHomeOpensOnlyWithThePassphrase() throws {
        let home = try Self.freshHome()
        var pass = Array("correct horse battery".utf8)
        let passphrase = SecretBytes(consuming: &pass)
        let created = try NodeHome.initialise(at: home, name: "Pat", modelSource: nil, network: "main",
                                              passphrase: passphrase, cost: .interactive)
        #expect(try home.needsPassphrase())
        #expect(throws: NodeError.self) { try home.open(passphrase: nil) }
        var wrong = Array("wrong horse battery".utf8)
        #expect(throws: NodeError.self) { try home.open(passphrase: SecretBytes(consuming: &wrong)) }
        #expect(try home.open(passphrase: passphrase).identity == created.identity)
    }

    @Test func aFailedInitLeavesNothingBehindAndCanBeRetried() throws {
        let home = try Self.freshHome()
        let bad = try Fixtures.temporaryDirectory().appendingPathComponent("bad.yaml")
        try "name: Ada\npolicy:\n  converse: everyone\n".write(to: bad, atomically: true, encoding: .utf8)
        #expect {
            try NodeHome.initialise(at: home, name: nil, modelSource: bad.path, network: "main", passphrase: nil)
        } throws: { error in
            "\(error)".contains("policy.converse") && "\(error)".contains("line 3")
        }
        #expect(!home.isInitialised)
        #expect(!FileManager.default.fileExists(atPath: home.modelFile))
        _ = try NodeHome.initialise(at: home, name: nil, modelSource: Self.ada, network: "main", passphrase: nil)
        #expect(home.isInitialised)
    }

    @Test func anExistingIdentityYamlIsUsedAndNameOverridesIt() throws {
        let home = try Self.freshHome()
        try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
        try String(contentsOfFile: Self.ada, encoding: .utf8).write(toFile: home.modelFile, atomically: true, encoding: .utf8)
        let context = try NodeHome.initialise(at: home, name: "Ada Q", modelSource: nil, network: "test", passphrase: nil)
        #expect(context.model.name == "Ada Q")
        #expect(try home.loadModel().name == "Ada Q")
        #expect(try context.currentManifest().manifest.net == NetworkID(name: "test"))
    }

    @Test func openRefusesAFolderOthersCanEnterAndMixedUpFiles() throws {
        let home = try Self.freshHome()
        _ = try NodeHome.initialise(at: home, name: "Ada", modelSource: nil, network: "main", passphrase: nil)
        #expect(chmod(home.path, 0o755) == 0)
        #expect { try home.open(passphrase: nil) } throws: { "\($0)".contains("chmod 700") }
        #expect(chmod(home.path, 0o700) == 0)

        let other = try Self.freshHome()
        _ = try NodeHome.initialise(at: other, name: "Ben", modelSource: nil, network: "main", passphrase: nil)
        try FileManager.default.removeItem(atPath: home.databaseFile)
        try FileManager.default.copyItem(atPath: other.databaseFile, toPath: home.databaseFile)
        #expect { try home.open(passphrase: nil) } throws: { "\($0)".contains("mixed up") }
    }

    @Test func invalidNetworkNamesAreRefused() throws {
        #expect(throws: NodeError.self) {
            try NodeHome.initialise(at: try Self.freshHome(), name: "Ada", modelSource: nil, network: "no spaces", passphrase: nil)
        }
    }
}
