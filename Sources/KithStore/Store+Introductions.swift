import Foundation
import GRDB
public import KithModel

/// A connection the AIs agreed on in a conversation, waiting for this node's person
/// (`policy.connect: ask`): nothing is signed until they run `kith accept`.
public struct Introduction: Sendable, Hashable {
    /// Who the AI would connect this person with.
    public var peer: Identity
    /// The conversation where the AIs agreed.
    public var conv: [UInt8]
    /// This node's assessment of the match, 0…1.
    public var match: Double
    /// Why, in short phrases.
    public var reasons: [String]
    /// What the other side's AI said, to help the person decide.
    public var excerpt: String
    /// When it was made, ms.
    public var createdAt: UInt64

    /// Creates an introduction.
    public init(peer: Identity, conv: [UInt8], match: Double, reasons: [String], excerpt: String, createdAt: UInt64) {
        self.peer = peer
        self.conv = conv
        self.match = match
        self.reasons = reasons
        self.excerpt = excerpt
        self.createdAt = createdAt
    }
}

extension Store {
    /// Keeps an introduction (the newest per peer).
    public func saveIntroduction(_ i: Introduction) throws(StoreError) {
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO introduction (peer, conv, match, reasons, excerpt, createdAt) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [Data(i.peer.bytes), Data(i.conv), Int64((i.match * 1000).rounded()), i.reasons.joined(separator: "\n"),
                                 i.excerpt, Int64(i.createdAt)])
        }
    }

    /// Every introduction waiting for the person, oldest first.
    public func introductions() throws(StoreError) -> [Introduction] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM introduction ORDER BY createdAt").map(Store.introduction) }
    }

    /// The introduction waiting for `peer`, if any.
    public func introduction(with peer: Identity) throws(StoreError) -> Introduction? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM introduction WHERE peer = ?", arguments: [Data(peer.bytes)]).map(Store.introduction)
        }
    }

    private static func introduction(_ row: Row) throws -> Introduction {
        let reasons: String = row["reasons"]
        return Introduction(peer: try Identity(publicKeyBytes: [UInt8](row["peer"] as Data)), conv: [UInt8](row["conv"] as Data),
                            match: Double(row["match"] as Int64) / 1000, reasons: reasons.isEmpty ? [] : reasons.components(separatedBy: "\n"),
                            excerpt: row["excerpt"], createdAt: UInt64(row["createdAt"] as Int64))
    }

    /// Forgets the introduction with `peer` (the person answered it).
    public func deleteIntroduction(with peer: Identity) throws(StoreError) {
        try write { db in try db.execute(sql: "DELETE FROM introduction WHERE peer = ?", arguments: [Data(peer.bytes)]) }
    }
}
