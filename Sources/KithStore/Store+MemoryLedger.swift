import Foundation
import GRDB
public import KithModel

/// A memory as it was when this node's AI drew on it: what `kith disclosures` shows for a keyed
/// hash in a signed entry, even after the memory was edited or its visibility changed.
public struct LedgerMemory: Sendable, Hashable {
    /// The memory's text then.
    public var text: String
    /// Its visibility then (`public`, `friends`, `private`).
    public var visibility: String
    /// When the node first drew on it, ms since the epoch.
    public var firstUsed: UInt64

    /// Creates a ledger row.
    public init(text: String, visibility: String, firstUsed: UInt64) {
        self.text = text
        self.visibility = visibility
        self.firstUsed = firstUsed
    }
}

extension Store {
    /// Records that the memories with these keyed hashes were given to the engine for a turn,
    /// in one transaction (each kept once: the first use's text and visibility stay).
    public func recordDisclosed(_ memories: [(hash: [UInt8], memory: IdentityModel.Memory)], at now: UInt64) throws(StoreError) {
        guard !memories.isEmpty else { return }
        try write { db in
            for (hash, memory) in memories {
                try db.execute(sql: "INSERT INTO memoryLedger (hash, text, visibility, firstUsed) VALUES (?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING",
                               arguments: [Data(hash), memory.text, memory.visibility.rawValue, Int64(now)])
            }
        }
    }

    /// Every memory in the ledger, by keyed hash.
    public func memoryLedger() throws(StoreError) -> [[UInt8]: LedgerMemory] {
        try read { db in
            var out: [[UInt8]: LedgerMemory] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT hash, text, visibility, firstUsed FROM memoryLedger") {
                let hash: Data = row["hash"]
                out[[UInt8](hash)] = LedgerMemory(text: row["text"], visibility: row["visibility"], firstUsed: UInt64(max(0, row["firstUsed"] as Int64)))
            }
            return out
        }
    }
}
