import Foundation
import GRDB
public import KithModel

/// The node's own identity as recorded in the store.
public struct OwnIdentityRecord: Sendable, Hashable {
    /// The node's identity.
    public var identity: Identity
    /// The network name, like `main`.
    public var network: String
    /// When the identity was created, ms since the epoch.
    public var createdAt: UInt64

    /// Creates a record.
    public init(identity: Identity, network: String, createdAt: UInt64) {
        self.identity = identity
        self.network = network
        self.createdAt = createdAt
    }

    /// The network id derived from ``network``.
    public var networkID: NetworkID { NetworkID(name: network) }
}

extension Store {
    /// Records the node's own identity; refuses to replace a different one.
    public func setOwnIdentity(_ record: OwnIdentityRecord) throws(StoreError) {
        try write { db in
            if let existing = try Data.fetchOne(db, sql: "SELECT id FROM identity WHERE singleton = 1"),
               [UInt8](existing) != record.identity.bytes {
                throw StoreError("this database belongs to another identity: use the --home it was created with")
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO identity (singleton, id, network, net, createdAt) VALUES (1, ?, ?, ?, ?)",
                arguments: [Data(record.identity.bytes), record.network, Data(record.networkID.bytes), Int64(record.createdAt)])
        }
    }

    /// The node's own identity, or nil before `kith init`.
    public func ownIdentity() throws(StoreError) -> OwnIdentityRecord? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, network, createdAt FROM identity WHERE singleton = 1") else { return nil }
            let id: Data = row["id"]
            return OwnIdentityRecord(identity: try Identity(publicKeyBytes: [UInt8](id)), network: row["network"],
                                     createdAt: UInt64(row["createdAt"] as Int64))
        }
    }
}
