import Foundation
import GRDB
public import KithModel

extension Store {
    /// Keeps `key` as the DHT record key of `identity` (this node's own, or a friend's).
    public func setDHTRecordKey(_ key: [UInt8], of identity: Identity, at now: UInt64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT INTO dhtRecordKey (id, key, receivedAt) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET key = excluded.key, receivedAt = excluded.receivedAt",
                           arguments: [Data(identity.bytes), Data(key), Int64(now)])
        }
    }

    /// The DHT record key kept for `identity`, if any.
    public func dhtRecordKey(of identity: Identity) throws(StoreError) -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT key FROM dhtRecordKey WHERE id = ?", arguments: [Data(identity.bytes)]).map { [UInt8]($0) }
        }
    }

    /// Forgets the DHT record key of `identity` (the friendship ended).
    public func forgetDHTRecordKey(of identity: Identity) throws(StoreError) {
        try write { db in try db.execute(sql: "DELETE FROM dhtRecordKey WHERE id = ?", arguments: [Data(identity.bytes)]) }
    }
}
