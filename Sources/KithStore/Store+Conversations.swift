import Foundation
import GRDB
public import KithModel

/// A stored conversation's summary.
public struct ConversationSummary: Sendable, Hashable, Codable {
    /// The conversation id in lowercase hex.
    public var id: String
    /// The other participant's did.
    public var with: String
    /// The topic.
    public var topic: String
    /// Number of entries.
    public var entries: Int
    /// `open`, `ended` (closed, waiting for seals) or `complete` (both seals).
    public var state: String
    /// Whether this node started it.
    public var initiatedByMe: Bool
    /// Creation time, ms.
    public var createdAt: UInt64
    /// Last change, ms.
    public var updatedAt: UInt64
}

extension Store {
    /// Moves a conversation's state forward only (open → ended → complete): a writer that
    /// computed an older state (actions of one conversation performed interleaved) never moves
    /// it back.
    static func advanceState(_ db: Database, conv: [UInt8], to state: String, at now: UInt64) throws {
        try db.execute(sql: """
            UPDATE conversation SET state = ?, updatedAt = ? WHERE id = ?
              AND (CASE state WHEN 'complete' THEN 2 WHEN 'ended' THEN 1 ELSE 0 END)
                  <= (CASE ? WHEN 'complete' THEN 2 WHEN 'ended' THEN 1 ELSE 0 END)
            """, arguments: [state, Int64(now), Data(conv), state])
    }

    /// Records a new conversation from its verified header and, in the same transaction, the
    /// entries `log` already holds (entry 1 when it opens), so no conversation is ever stored
    /// without its first entry.
    public func insertConversation(_ log: ConversationLog, me: Identity, state: String = "open", at now: UInt64) throws(StoreError) {
        let peer = log.other(than: me)
        try write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO conversation (id, headerBytes, headerSig, peer, topic, initiatedByMe, state, createdAt, updatedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [Data(log.id), Data(log.headerObject.bytes), Data(log.headerObject.sig), Data(peer.bytes),
                                 log.header.topic, log.header.from == me, state, Int64(now), Int64(now)])
            for (object, _) in log.manifests { try Self.insertManifest(db, conv: log.id, object) }
            for (object, entry) in log.entries {
                try db.execute(sql: "INSERT INTO entry (conv, seq, bytes, sig, hash, receivedAt) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [Data(log.id), Int64(entry.seq), Data(object.bytes), Data(object.sig), Data(object.hash), Int64(now)])
            }
        }
    }

    private static func insertManifest(_ db: Database, conv: [UInt8], _ object: SignedObject) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO conversationManifest (conv, hash, bytes, sig) VALUES (?, ?, ?, ?)",
                       arguments: [Data(conv), Data(object.hash), Data(object.bytes), Data(object.sig)])
    }

    /// Appends a validated entry durably (the caller validated it with ``ConversationLog``),
    /// with the manifest it brought into the conversation, if any, in the same transaction; the
    /// primary key (conv, seq) refuses a second entry at the same seq.
    public func appendEntry(conv: [UInt8], seq: UInt64, _ object: SignedObject, manifest: SignedObject? = nil, state: String,
                            at now: UInt64) throws(StoreError) {
        try write { db in
            if let manifest { try Self.insertManifest(db, conv: conv, manifest) }
            try db.execute(sql: "INSERT INTO entry (conv, seq, bytes, sig, hash, receivedAt) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [Data(conv), Int64(seq), Data(object.bytes), Data(object.sig), Data(object.hash), Int64(now)])
            try Self.advanceState(db, conv: conv, to: state, at: now)
        }
    }

    /// Stores a validated seal.
    public func addSeal(conv: [UInt8], by: Identity, _ object: SignedObject, state: String, at now: UInt64) throws(StoreError) {
        try write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO seal (conv, by, bytes, sig) VALUES (?, ?, ?, ?)",
                           arguments: [Data(conv), Data(by.bytes), Data(object.bytes), Data(object.sig)])
            try Self.advanceState(db, conv: conv, to: state, at: now)
        }
    }

    /// The raw records of a conversation, exactly as stored: header, manifests (in the order they
    /// came), entries in seq order, seals.
    public func conversationRecords(_ conv: [UInt8]) throws(StoreError) -> ConversationRecords? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT headerBytes, headerSig FROM conversation WHERE id = ?", arguments: [Data(conv)]) else {
                return nil
            }
            let header = try SignedObject(type: ConversationHeader.type, bytes: [UInt8](row["headerBytes"] as Data), sig: [UInt8](row["headerSig"] as Data))
            let manifests = try Row.fetchAll(db, sql: "SELECT bytes, sig FROM conversationManifest WHERE conv = ? ORDER BY rowid",
                                             arguments: [Data(conv)]).map {
                try SignedObject(type: Manifest.type, bytes: [UInt8]($0["bytes"] as Data), sig: [UInt8]($0["sig"] as Data))
            }
            let entries = try Row.fetchAll(db, sql: "SELECT bytes, sig FROM entry WHERE conv = ? ORDER BY seq", arguments: [Data(conv)]).map {
                try SignedObject(type: ConversationEntry.type, bytes: [UInt8]($0["bytes"] as Data), sig: [UInt8]($0["sig"] as Data))
            }
            let seals = try Row.fetchAll(db, sql: "SELECT bytes, sig FROM seal WHERE conv = ? ORDER BY by", arguments: [Data(conv)]).map {
                try SignedObject(type: ConversationSeal.type, bytes: [UInt8]($0["bytes"] as Data), sig: [UInt8]($0["sig"] as Data))
            }
            return ConversationRecords(header: header, manifests: manifests, entries: entries, seals: seals)
        }
    }

    /// Rebuilds a conversation's log from storage, re-validating every record.
    public func loadConversation(_ conv: [UInt8]) throws(StoreError) -> ConversationLog? {
        guard let records = try conversationRecords(conv) else { return nil }
        do {
            var log = try ConversationLog(header: records.header)
            for manifest in records.manifests { try log.addManifest(manifest) }
            for entry in records.entries { try log.append(entry) }
            for seal in records.seals { try log.addSeal(seal) }
            return log
        } catch {
            throw StoreError("stored conversation \(Hex.encode(conv)) no longer validates (\(error)): the database was altered")
        }
    }

    /// Every conversation, newest first.
    public func conversations() throws(StoreError) -> [ConversationSummary] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.id, c.peer, c.topic, c.state, c.initiatedByMe, c.createdAt, c.updatedAt,
                       (SELECT count(*) FROM entry e WHERE e.conv = c.id) AS entries
                FROM conversation c ORDER BY c.createdAt DESC
                """).map { row in
                ConversationSummary(id: Hex.encode([UInt8](row["id"] as Data)),
                                    with: try Identity(publicKeyBytes: [UInt8](row["peer"] as Data)).did,
                                    topic: row["topic"], entries: row["entries"], state: row["state"],
                                    initiatedByMe: row["initiatedByMe"], createdAt: UInt64(row["createdAt"] as Int64),
                                    updatedAt: UInt64(row["updatedAt"] as Int64))
            }
        }
    }

    /// Resolves a full id or a unique prefix (lowercase hex) to a conversation id.
    public func resolveConversation(_ text: String) throws(StoreError) -> [UInt8] {
        let prefix = text.lowercased()
        guard !prefix.isEmpty, prefix.count <= 64, prefix.allSatisfy(\.isHexDigit) else {
            throw StoreError("'\(text)' is not a conversation id: use the hex id from `kith conversations` (a unique prefix works)")
        }
        let matches = try conversations().filter { $0.id.hasPrefix(prefix) }
        guard let first = matches.first else { throw StoreError("no conversation starts with \(prefix): see `kith conversations`") }
        guard matches.count == 1 else { throw StoreError("\(prefix) matches \(matches.count) conversations: give more characters") }
        return Hex.decode(first.id)!
    }

    /// Conversations with `peer` created since `since` (ms), for the daily limit.
    public func conversationCount(with peer: Identity? = nil, since: UInt64) throws(StoreError) -> Int {
        try read { db in
            if let peer {
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM conversation WHERE peer = ? AND createdAt >= ?",
                                        arguments: [Data(peer.bytes), Int64(since)]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM conversation WHERE createdAt >= ?", arguments: [Int64(since)]) ?? 0
        }
    }
}
