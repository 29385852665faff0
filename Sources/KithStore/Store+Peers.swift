import Foundation
import GRDB
public import KithModel

/// A peer the person added, with the endpoints it was reached at.
public struct PeerRecord: Sendable, Hashable {
    /// The peer's identity.
    public var identity: Identity
    /// When it was added, ms since the epoch.
    public var addedAt: UInt64
    /// Known endpoints, like `tcp://host:port`.
    public var endpoints: [String]
}

extension Store {
    /// Adds a peer (idempotent) and, when given, an endpoint for it.
    public func addPeer(_ identity: Identity, endpoint: String? = nil, at now: UInt64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO peer (id, addedAt) VALUES (?, ?)", arguments: [Data(identity.bytes), Int64(now)])
            if let endpoint {
                try db.execute(
                    sql: "INSERT INTO endpoint (id, address, lastSeen) VALUES (?, ?, ?) ON CONFLICT(id, address) DO UPDATE SET lastSeen = excluded.lastSeen",
                    arguments: [Data(identity.bytes), endpoint, Int64(now)])
            }
        }
    }

    /// Every peer with its endpoints, most recently seen endpoint first.
    public func peers() throws(StoreError) -> [PeerRecord] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, addedAt FROM peer ORDER BY addedAt, id")
            return try rows.map { row in
                let id: Data = row["id"]
                let endpoints = try String.fetchAll(
                    db, sql: "SELECT address FROM endpoint WHERE id = ? ORDER BY lastSeen DESC, address", arguments: [id])
                return PeerRecord(identity: try Identity(publicKeyBytes: [UInt8](id)), addedAt: UInt64(row["addedAt"] as Int64),
                                  endpoints: endpoints)
            }
        }
    }
}

/// Where a friend says it listens, as its `addresses` message told.
public struct AdvertisedAddresses: Sendable, Hashable {
    /// The endpoints, like `tcp://host:port`.
    public var endpoints: [String]
    /// Whether the friend lets this node pass them to friends of friends (`policy.addresses: fof`).
    public var sharedWithFriendsOfFriends: Bool
}

extension Store {
    /// Replaces what `identity` says about where it listens.
    public func setAdvertisedAddresses(of identity: Identity, _ endpoints: [String], sharedWithFriendsOfFriends: Bool, at now: UInt64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "DELETE FROM advertisedAddress WHERE id = ?", arguments: [Data(identity.bytes)])
            for endpoint in endpoints {
                try db.execute(sql: "INSERT OR IGNORE INTO advertisedAddress (id, address, share, receivedAt) VALUES (?, ?, ?, ?)",
                               arguments: [Data(identity.bytes), endpoint, sharedWithFriendsOfFriends ? "fof" : "friends", Int64(now)])
            }
        }
    }

    /// What `identity` last said about where it listens (empty when nothing).
    public func advertisedAddresses(of identity: Identity) throws(StoreError) -> AdvertisedAddresses {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT address, share FROM advertisedAddress WHERE id = ? ORDER BY rowid",
                                        arguments: [Data(identity.bytes)])
            return AdvertisedAddresses(endpoints: rows.map { $0["address"] }, sharedWithFriendsOfFriends: rows.contains { ($0["share"] as String) == "fof" })
        }
    }

    /// Forgets what `identity` said about where it listens (the friendship ended).
    public func forgetAdvertisedAddresses(of identity: Identity) throws(StoreError) {
        try write { db in try db.execute(sql: "DELETE FROM advertisedAddress WHERE id = ?", arguments: [Data(identity.bytes)]) }
    }
}
