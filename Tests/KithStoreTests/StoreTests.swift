import Foundation
import KithCrypto
import KithModel
import KithStore
import KithTestSupport
import Testing

@Suite("Store")
struct StoreTests {
    static func manifest(_ key: Ed25519.KeyPair, seq: UInt64, name: String = "Ada") throws -> (SignedObject, Manifest) {
        let m = Manifest(id: Identity(publicKey: key.publicKey), seq: seq, ts: 1_000 + seq, exp: 10_000_000, name: name, bio: "",
                         interests: [], model: [UInt8](repeating: 1, count: 32), endpoints: [], caps: [], net: .main)
        return (try m.signed(with: key), m)
    }

    @Test func aConversationStateOnlyMovesForward() throws {
        // Both seals land; a writer that computed "ended" earlier and stores the other seal last
        // must not move the conversation back (the node performs two action lists interleaved).
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        let log = try #require(pair.a.stored[conv])
        let store = try Store()
        var partial = try ConversationLog(header: log.headerObject)
        for (object, _) in log.manifests { try partial.addManifest(object) }
        for (object, _) in log.entries { try partial.append(object) }
        try store.insertConversation(partial, me: pair.a.identity, state: "ended", at: 1)
        // The manifests the conversation carries are stored with it and come back in order.
        #expect(try store.conversationRecords(conv)?.manifests == log.manifests.map(\.object))
        let seals = Array(log.seals.values)
        try store.addSeal(conv: conv, by: seals[0].seal.by, seals[0].object, state: "complete", at: 2)
        try store.addSeal(conv: conv, by: seals[1].seal.by, seals[1].object, state: "ended", at: 3)
        #expect(try store.conversations().first?.state == "complete")
    }

    @Test func keepsTheHighestSeqAndFlagsEquivocation() throws {
        let store = try Store()
        let key = Ed25519.KeyPair.generate()
        let (o1, m1) = try Self.manifest(key, seq: 1)
        let (o2, m2) = try Self.manifest(key, seq: 2)
        #expect(try store.storeManifest(o1, manifest: m1, receivedAt: 1) == .inserted)
        #expect(try store.storeManifest(o1, manifest: m1, receivedAt: 2) == .duplicate)
        #expect(try store.storeManifest(o2, manifest: m2, receivedAt: 3) == .replaced(previousSeq: 1))
        #expect(try store.storeManifest(o1, manifest: m1, receivedAt: 4) == .stale(storedSeq: 2))
        let (fork, forkManifest) = try Self.manifest(key, seq: 2, name: "Eve")
        #expect(try store.storeManifest(fork, manifest: forkManifest, receivedAt: 5) == .equivocation)
        let stored = try #require(try store.manifest(of: Identity(publicKey: key.publicKey)))
        #expect(stored.object == o2, "the first manifest with a seq is kept")
        #expect(stored.equivocating)
    }

    @Test func keepsExactSignedBytesAcrossReopen() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("kith.db").path
        let key = Ed25519.KeyPair.generate()
        let (object, m) = try Self.manifest(key, seq: 5)
        do {
            let store = try Store(path: path)
            _ = try store.storeManifest(object, manifest: m, receivedAt: 9)
            try store.setOwnIdentity(.init(identity: m.id, network: "main", createdAt: 1))
            try store.addPeer(m.id, endpoint: "tcp://127.0.0.1:7400", at: 10)
        }
        let reopened = try Store(path: path)
        #expect(try reopened.manifest(of: m.id)?.object == object)
        #expect(try reopened.ownIdentity()?.identity == m.id)
        #expect(try reopened.peers().first?.endpoints == ["tcp://127.0.0.1:7400"])
        #expect(try reopened.integrityCheck() == "ok")
        let mode = try String.fetchJournalMode(path)
        #expect(mode == "wal")
    }

    @Test func refusesToReplaceTheOwnIdentity() throws {
        let store = try Store()
        try store.setOwnIdentity(.init(identity: NodeKeys.generate().identity, network: "main", createdAt: 1))
        #expect(throws: StoreError.self) {
            try store.setOwnIdentity(.init(identity: NodeKeys.generate().identity, network: "main", createdAt: 2))
        }
    }

    @Test func garbageAndForeignDatabasesGiveClearErrors() throws {
        let dir = try Fixtures.temporaryDirectory()
        let garbage = dir.appendingPathComponent("garbage.db").path
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: garbage))
        #expect {
            try Store(path: garbage)
        } throws: { error in
            "\(error)".contains("not a SQLite database or is damaged")
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: garbage))
        #expect(try Data(contentsOf: URL(fileURLWithPath: garbage)) == original, "left untouched")

        let foreign = dir.appendingPathComponent("foreign.db").path
        #expect(sqliteExec(foreign, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hi');"))
        #expect {
            try Store(path: foreign)
        } throws: { error in
            "\(error)".contains("not a Kith database")
        }
    }

    @Test func aTamperedStoredManifestIsReportedNotTrusted() throws {
        let dir = try Fixtures.temporaryDirectory()
        let path = dir.appendingPathComponent("kith.db").path
        let key = Ed25519.KeyPair.generate()
        let (object, m) = try Self.manifest(key, seq: 1)
        do { _ = try Store(path: path).storeManifest(object, manifest: m, receivedAt: 1) }
        #expect(sqliteExec(path, "UPDATE manifest SET sig = zeroblob(64);"))
        #expect(throws: StoreError.self) { try Store(path: path).manifest(of: m.id) }
    }
}

/// Runs SQL through the sqlite3 C library directly (a second, independent writer).
func sqliteExec(_ path: String, _ sql: String) -> Bool {
    SQLiteShell.exec(path, sql)
}

extension String {
    static func fetchJournalMode(_ path: String) throws -> String? {
        SQLiteShell.query(path, "PRAGMA journal_mode")
    }
}
