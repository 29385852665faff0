import Foundation
import GRDB
public import KithModel

/// What storing a verified manifest did.
public enum ManifestStoreOutcome: Sendable, Hashable {
    /// The first manifest known for this identity.
    case inserted
    /// It replaced a lower seq.
    case replaced(previousSeq: UInt64)
    /// The same bytes were already stored.
    case duplicate
    /// A higher seq is already stored; nothing changed.
    case stale(storedSeq: UInt64)
    /// The same seq with different bytes: the first one is kept and the identity is flagged.
    case equivocation
}

/// A stored manifest with its exact signed bytes.
public struct StoredManifest: Sendable, Hashable {
    /// The signed object exactly as received.
    public var object: SignedObject
    /// Its decoded fields.
    public var manifest: Manifest
    /// When it was stored, ms since the epoch.
    public var receivedAt: UInt64
    /// Whether the identity was caught signing two different manifests with one seq.
    public var equivocating: Bool
}

extension Store {
    /// Stores a manifest that the caller has verified (``Manifest/verify(_:now:)``), keeping only
    /// the highest seq per identity.
    public func storeManifest(_ object: SignedObject, manifest: Manifest, receivedAt: UInt64) throws(StoreError) -> ManifestStoreOutcome {
        precondition(object.type == Manifest.type)
        let seq = try sqliteInteger(manifest.seq, "a manifest seq")
        return try write { db in
            let id = Data(manifest.id.bytes)
            if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM manifest WHERE id = ?", arguments: [id]) {
                let storedSeq = UInt64(row["seq"] as Int64)
                let storedHash = [UInt8](row["hash"] as Data)
                if manifest.seq < storedSeq { return .stale(storedSeq: storedSeq) }
                if manifest.seq == storedSeq {
                    if storedHash == object.hash { return .duplicate }
                    try db.execute(sql: "UPDATE manifest SET equivocating = 1 WHERE id = ?", arguments: [id])
                    return .equivocation
                }
                try db.execute(
                    sql: "UPDATE manifest SET seq = ?, bytes = ?, sig = ?, hash = ?, receivedAt = ? WHERE id = ?",
                    arguments: [seq, Data(object.bytes), Data(object.sig), Data(object.hash), Int64(receivedAt), id])
                return .replaced(previousSeq: storedSeq)
            }
            try db.execute(
                sql: "INSERT INTO manifest (id, seq, bytes, sig, hash, receivedAt) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [id, seq, Data(object.bytes), Data(object.sig), Data(object.hash), Int64(receivedAt)])
            return .inserted
        }
    }

    /// Forgets the manifest held for `identity` (a stranger whose request ended).
    public func deleteManifest(of identity: Identity) throws(StoreError) {
        try write { db in try db.execute(sql: "DELETE FROM manifest WHERE id = ?", arguments: [Data(identity.bytes)]) }
    }

    /// Marks `identity` as having signed two different manifests with one seq.
    public func flagEquivocation(_ identity: Identity) throws(StoreError) {
        try write { db in
            try db.execute(sql: "UPDATE manifest SET equivocating = 1 WHERE id = ?", arguments: [Data(identity.bytes)])
        }
    }

    /// The stored manifest of `identity`, re-verified from its stored bytes.
    public func manifest(of identity: Identity) throws(StoreError) -> StoredManifest? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM manifest WHERE id = ?", arguments: [Data(identity.bytes)]) else { return nil }
            return try Store.storedManifest(row)
        }
    }

    /// Every stored manifest.
    public func allManifests() throws(StoreError) -> [StoredManifest] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM manifest ORDER BY id").map(Store.storedManifest) }
    }

    /// How many manifests are stored (one count, however many there are).
    public func manifestCount() throws(StoreError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM manifest") ?? 0 }
    }

    private static func storedManifest(_ row: Row) throws -> StoredManifest {
        let object = try SignedObject(type: Manifest.type, bytes: [UInt8](row["bytes"] as Data), sig: [UInt8](row["sig"] as Data))
        let manifest: Manifest
        do { manifest = try Manifest.verify(object) } catch {
            throw StoreError("a stored manifest no longer verifies (\(error)): the database was altered")
        }
        return StoredManifest(object: object, manifest: manifest, receivedAt: UInt64(row["receivedAt"] as Int64),
                              equivocating: row["equivocating"])
    }
}
