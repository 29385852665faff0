import Foundation
import GRDB
public import KithModel

/// A stored, verified connection record.
public struct StoredConnection: Sendable, Hashable {
    /// The signed object exactly as received or made.
    public var object: SignedObject
    /// Its fields.
    public var record: ConnectionRecord
    /// When it was stored, ms since the epoch.
    public var receivedAt: UInt64
}

extension Store {
    /// Stores a verified connection or revocation record; per signer and pair the standing one is
    /// kept (``ConnectionRecord/supersedes(_:)``). Returns whether it was stored.
    @discardableResult
    public func storeConnection(_ object: SignedObject, record: ConnectionRecord, receivedAt: UInt64) throws(StoreError) -> Bool {
        let ts = try sqliteInteger(record.ts, "a connection record's ts")
        return try write { db in
            try db.execute(sql: """
                INSERT INTO connection (a, b, by, ts, bytes, sig, receivedAt, type) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(a, b, by) DO UPDATE SET ts = excluded.ts, bytes = excluded.bytes, sig = excluded.sig,
                    receivedAt = excluded.receivedAt, type = excluded.type
                WHERE excluded.ts > connection.ts
                   OR (excluded.ts = connection.ts AND excluded.type = 'revocation' AND connection.type = 'connection')
                """, arguments: [Data(record.a.bytes), Data(record.b.bytes), Data(record.by.bytes), ts,
                                 Data(object.bytes), Data(object.sig), Int64(receivedAt), record.kind.rawValue])
            return db.changesCount > 0
        }
    }

    /// Every stored record.
    public func allConnections() throws(StoreError) -> [StoredConnection] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM connection ORDER BY receivedAt").map(Store.storedConnection) }
    }

    /// Removes the record `by` signed for the pair `{x, y}` (used to decline a request).
    public func deleteConnection(between x: Identity, and y: Identity, by signer: Identity) throws(StoreError) {
        let (a, b) = x < y ? (x, y) : (y, x)
        try write { db in
            try db.execute(sql: "DELETE FROM connection WHERE a = ? AND b = ? AND by = ?",
                           arguments: [Data(a.bytes), Data(b.bytes), Data(signer.bytes)])
        }
    }

    /// Every stored record that involves `identity`.
    public func connections(involving identity: Identity) throws(StoreError) -> [StoredConnection] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM connection WHERE a = ? OR b = ? ORDER BY receivedAt",
                                        arguments: [Data(identity.bytes), Data(identity.bytes)])
            return try rows.map(Store.storedConnection)
        }
    }

    private static func storedConnection(_ row: Row) throws -> StoredConnection {
        let object = try SignedObject(type: row["type"], bytes: [UInt8](row["bytes"] as Data), sig: [UInt8](row["sig"] as Data))
        let record: ConnectionRecord
        do { record = try ConnectionRecord.verify(object) } catch {
            throw StoreError("a stored connection record no longer verifies (\(error)): the database was altered")
        }
        return StoredConnection(object: object, record: record, receivedAt: UInt64(row["receivedAt"] as Int64))
    }

    /// The record `signer` made for the pair `{x, y}`, if stored.
    public func connection(between x: Identity, and y: Identity, by signer: Identity) throws(StoreError) -> StoredConnection? {
        try connections(involving: signer).first { $0.record.joins(x, y) && $0.record.by == signer }
    }

    /// The endpoints stored for `identity`, most recently seen first.
    public func endpoints(of identity: Identity) throws(StoreError) -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT address FROM endpoint WHERE id = ? ORDER BY lastSeen DESC, address",
                                arguments: [Data(identity.bytes)])
        }
    }

    /// Notes where a pending request from `peer` came from (its network prefix).
    public func noteRequestSource(_ peer: Identity, prefix: String, at now: UInt64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO requestSource (peer, prefix, receivedAt) VALUES (?, ?, ?)",
                           arguments: [Data(peer.bytes), prefix, Int64(now)])
        }
    }

    /// Forgets where `peer`'s request came from (it was answered, withdrawn or expired).
    public func forgetRequestSource(_ peer: Identity) throws(StoreError) {
        try write { db in try db.execute(sql: "DELETE FROM requestSource WHERE peer = ?", arguments: [Data(peer.bytes)]) }
    }

    /// Pending requests noted in all, and from `prefix`.
    public func requestSourceCounts(prefix: String) throws(StoreError) -> (total: Int, fromPrefix: Int) {
        try read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM requestSource") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM requestSource WHERE prefix = ?", arguments: [prefix]) ?? 0)
        }
    }

    /// Requests noted before `cutoff` (ms), oldest first.
    public func requestSources(before cutoff: UInt64) throws(StoreError) -> [Identity] {
        try read { db in
            try Data.fetchAll(db, sql: "SELECT peer FROM requestSource WHERE receivedAt < ? ORDER BY receivedAt", arguments: [Int64(cutoff)])
                .map { try Identity(publicKeyBytes: [UInt8]($0)) }
        }
    }
}

