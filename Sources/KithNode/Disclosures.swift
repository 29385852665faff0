import Foundation
public import KithCrypto
public import KithModel
import KithPersona
public import KithStore

/// One memory this node's AI drew on in a turn it signed, as `kith disclosures` lists it.
public struct DisclosureRecord: Sendable, Codable {
    /// When the turn was signed, ms since the epoch.
    public var ts: UInt64
    /// To whom.
    public var peer: String
    /// Their name, when known.
    public var name: String?
    /// The conversation (hex) and the turn's seq.
    public var conv: String
    public var seq: UInt64
    /// The memory's keyed hash (hex), as the signed entry records it.
    public var hash: String
    /// The memory and its visibility now, when it is still in `identity.yaml`.
    public var text: String?
    public var visibility: String?
}

/// Which memories were disclosed to whom and when, read from the signed transcripts: each
/// entry this identity signed names the keyed hashes of the memories its engine was given.
public enum Disclosures {
    /// Every disclosure in the store, oldest first; only those to `peer` when given.
    public static func list(store: Store, me: Identity, model: IdentityModel, salt: SecretBytes,
                            peer: Identity? = nil) throws(StoreError) -> [DisclosureRecord] {
        let memories = Dictionary(model.memories.map { (Hex.encode(MemoryFilter.hash($0, salt: salt)), $0) }, uniquingKeysWith: { a, _ in a })
        var out: [DisclosureRecord] = []
        for summary in try store.conversations() where peer.map({ $0.did == summary.with }) ?? true {
            guard let id = Hex.decode(summary.id), let records = try store.conversationRecords(id) else { continue }
            let other = try? Identity(did: summary.with)
            let name = other.flatMap { ConversationNames.name(of: $0, conv: summary.id, store: store) }
            for object in records.entries {
                guard let entry = try? ConversationEntry.decode(object), entry.author == me else { continue }
                for hash in entry.disclosed {
                    let hex = Hex.encode(hash)
                    out.append(DisclosureRecord(ts: entry.ts, peer: summary.with, name: name, conv: summary.id, seq: entry.seq, hash: hex,
                                                text: memories[hex]?.text, visibility: memories[hex]?.visibility.rawValue))
                }
            }
        }
        return out.sorted { ($0.ts, $0.seq) < ($1.ts, $1.seq) }
    }
}
