import Foundation
import KithCrypto
import KithModel
import KithNode
import KithProtocol
import KithStore
import KithTestSupport
import Testing

@Suite("Backup and restore", .serialized)
struct BackupTests {
    static func passphrase(_ text: String = "correct horse battery") -> SecretBytes {
        var bytes = Array(text.utf8)
        return SecretBytes(consuming: &bytes)
    }

    static func rewriteBio(_ home: NodeHome, _ bio: String) throws {
        var lines = try String(contentsOfFile: home.modelFile, encoding: .utf8).components(separatedBy: "\n")
        if let i = lines.firstIndex(where: { $0.hasPrefix("bio:") }) { lines[i] = "bio: \(bio)" }
        try lines.joined(separator: "\n").write(toFile: home.modelFile, atomically: true, encoding: .utf8)
    }

    @Test func aRestoredNodeSignsAboveWhatItsFriendsHoldAndNoOneFlagsIt() async throws {
        let ben = try await ProposalTests.start("ben", edits: [("connect: ask", "connect: auto")])
        let ada = try await RunningNode.start("ada")
        #expect(await ada.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port).outcome == .accepted)
        var conv = ""
        for await event in await ada.runtime.talk(to: ben.identity, host: nil, port: nil, topic: "books", turns: 4) where event.event == .started {
            conv = event.conv
        }
        let benStore = try ben.home.open(passphrase: nil).store
        func heldByBen() -> Manifest? { (try? benStore.manifest(of: ada.identity))?.manifest }

        // The backup, taken while the node runs.
        let file = try Fixtures.temporaryDirectory("backup").appendingPathComponent("ada.kithbackup").path
        let report = try Backup.write(ada.home, to: file, passphrase: Self.passphrase(), cost: .interactive)
        #expect(report.id == ada.identity.did && report.databaseBytes > 0)
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)

        // Ada goes on editing her profile; Ben holds the newer manifests.
        for bio in ["First edit after the backup.", "Second edit after the backup."] {
            try Self.rewriteBio(ada.home, bio)
            let reloaded = try await ada.runtime.reload()
            #expect(await eventually { heldByBen()?.seq == reloaded.seq })
        }
        let heldBefore = try #require(heldByBen())
        await ada.runtime.stop()

        // The machine is lost: the backup comes back in a new home.
        let home = NodeHome(path: try Fixtures.temporaryDirectory("restored").appendingPathComponent("ada").path)
        let restored = try Backup.restore(file, into: home, passphrase: Self.passphrase())
        #expect(restored.id == ada.identity.did)
        for f in [home.keyFile, home.modelFile, home.databaseFile] {
            #expect((try FileManager.default.attributesOfItem(atPath: f)[.posixPermissions] as? Int) == 0o600, "\(f)")
        }
        #expect(try home.open(passphrase: nil).store.manifest(of: ada.identity)!.manifest.seq < heldBefore.seq, "the backup is older")
        let again = try await RunningNode.start("", home: home)

        // Ben tells the restored node what it signed since; it signs above, and Ben takes it.
        #expect(await eventually(10) { (heldByBen()?.seq ?? 0) > heldBefore.seq })
        let after = try #require(heldByBen())
        #expect(after.bio == "Climber and compiler nerd. I write small languages and smaller poems.", "the restored model's profile")
        #expect(try benStore.manifest(of: ada.identity)?.equivocating == false, "no friend flags a restored node")
        #expect(await ben.runtime.status().gossip["equivocations"] == 0)
        // The restored database holds the conversation, and it audits.
        let convID = try #require(Hex.decode(conv))
        let records = try #require(try home.open(passphrase: nil).store.conversationRecords(convID))
        #expect(ConversationLog.audit(records, now: WallClock.system.now()).isComplete)
        await again.runtime.stop()
        await ben.runtime.stop()
    }

    @Test func aBackupOpensOnlyWithItsPassphraseNeverOverwritesAndRefusesAlteredBytes() async throws {
        let dir = try Fixtures.temporaryDirectory("backup")
        let home = NodeHome(path: dir.appendingPathComponent("ada").path)
        _ = try NodeHome.initialise(at: home, name: "Ada", modelSource: nil, network: "main", passphrase: nil, cost: .interactive)
        let file = dir.appendingPathComponent("ada.kithbackup").path
        _ = try Backup.write(home, to: file, passphrase: Self.passphrase(), cost: .interactive)
        #expect(throws: NodeError.self) { try Backup.write(home, to: file, passphrase: Self.passphrase(), cost: .interactive) }

        let target = NodeHome(path: dir.appendingPathComponent("target").path)
        #expect { try Backup.restore(file, into: target, passphrase: Self.passphrase("wrong horse battery")) }
            throws: { ($0 as? NodeError)?.message.contains("wrong passphrase") == true }
        #expect(!target.isInitialised, "nothing written on failure")
        // Every byte of the file matters: a sample of single-byte changes is refused.
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let altered = dir.appendingPathComponent("altered.kithbackup").path
        for i in stride(from: 0, to: original.count, by: max(1, original.count / 12)) {
            var bytes = original
            bytes[i] ^= 0x20
            try Data(bytes).write(to: URL(fileURLWithPath: altered))
            #expect(throws: NodeError.self, "byte \(i)") { try Backup.restore(altered, into: target, passphrase: Self.passphrase()) }
            #expect(!target.isInitialised)
        }
        // A home holding part of a node (a stray WAL file that could be replayed into the restored
        // database) is refused, and the stray file is left alone.
        let partial = NodeHome(path: dir.appendingPathComponent("partial").path)
        try FileManager.default.createDirectory(atPath: partial.path, withIntermediateDirectories: true)
        try Data("not ours".utf8).write(to: URL(fileURLWithPath: partial.databaseFile + "-wal"))
        #expect(throws: NodeError.self) { try Backup.restore(file, into: partial, passphrase: Self.passphrase()) }
        #expect(FileManager.default.fileExists(atPath: partial.databaseFile + "-wal") && !partial.isInitialised)
        // A home that holds a node is never overwritten.
        #expect(throws: NodeError.self) { try Backup.restore(file, into: home, passphrase: Self.passphrase()) }
        let restored = try Backup.restore(file, into: target, passphrase: Self.passphrase())
        #expect(try target.open(passphrase: nil).identity.did == restored.id)
    }
}
