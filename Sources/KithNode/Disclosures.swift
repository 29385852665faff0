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
    /// Their name, when known (peer-chosen text: show it with control characters replaced).
    public var name: String?
    /// The conversation (hex) and the turn's seq.
    public var conv: String
    public var seq: UInt64
    /// The memory's keyed hash (hex), as the signed entry records it.
    public var hash: String
    /// The memory as it was disclosed, and its visibility then, when this node can name it.
    public var text: String?
    public var visibility: String?
    /// Its visibility in `identity.yaml` now; nil when no memory there has this text any more.
    public var visibilityNow: String?
    /// Whether the turn's words visibly carry it (the disclosure guard's test). An entry names
    /// every memory the engine was *given*; an LLM may have used it, paraphrased it or left it
    /// alone, so `false` means "given, not visibly said", not "certainly unused". Nil when this
    /// node cannot name the memory.
    public var inWords: Bool?
}

/// Names the memories behind keyed hashes: `identity.yaml` as it is now, then the memory ledger
/// (each memory as it was when the AI first drew on it), then each current memory under its
/// other visibilities (disclosures from before the ledger, of a memory whose visibility changed).
public struct MemoryNames: Sendable {
    /// A memory named by its hash: as it was disclosed, and its visibility now.
    public struct Named: Sendable, Hashable {
        public var text: String
        public var visibility: String
        public var visibilityNow: String?
    }

    private let named: [String: Named]

    /// Reads the ledger from `store` and hashes `model`'s memories with `salt`.
    public init(model: IdentityModel, salt: SecretBytes, store: Store) {
        var now: [String: String] = [:]
        for m in model.memories where now[m.text] == nil { now[m.text] = m.visibility.rawValue }
        var named: [String: Named] = [:]
        for m in model.memories {
            for v in IdentityModel.Visibility.allCases {
                var variant = m
                variant.visibility = v
                let hex = Hex.encode(MemoryFilter.hash(variant, salt: salt))
                if v == m.visibility || named[hex] == nil { named[hex] = Named(text: m.text, visibility: v.rawValue, visibilityNow: m.visibility.rawValue) }
            }
        }
        for (hash, m) in (try? store.memoryLedger()) ?? [:] {
            let hex = Hex.encode(hash)
            if let exact = named[hex], exact.visibility == exact.visibilityNow { continue }
            named[hex] = Named(text: m.text, visibility: m.visibility, visibilityNow: now[m.text])
        }
        self.named = named
    }

    /// The memory behind `hash` (hex), if this node can name it.
    public func callAsFunction(_ hash: String) -> Named? { named[hash] }
}

/// Which memories were disclosed to whom and when, read from the signed transcripts: each
/// entry this identity signed names the keyed hashes of the memories its engine was given.
public enum Disclosures {
    /// Every disclosure in the store, oldest first; only those to `peer` when given.
    public static func list(store: Store, me: Identity, model: IdentityModel, salt: SecretBytes,
                            peer: Identity? = nil) throws(StoreError) -> [DisclosureRecord] {
        let memories = MemoryNames(model: model, salt: salt, store: store)
        var out: [DisclosureRecord] = []
        for summary in try store.conversations() where peer.map({ $0.did == summary.with }) ?? true {
            guard let id = Hex.decode(summary.id), let records = try store.conversationRecords(id) else { continue }
            let other = try? Identity(did: summary.with)
            let name = other.flatMap { ConversationNames.name(of: $0, conv: summary.id, store: store) }
            for object in records.entries {
                guard let entry = try? ConversationEntry.decode(object), entry.author == me else { continue }
                let named = entry.disclosed.map { memories(Hex.encode($0)) }
                let given = named.compactMap { $0 }.map { IdentityModel.Memory(text: $0.text, visibility: .public) }
                let said = Set(DisclosureGuard.revealed(given, in: entry.text, persona: model).map(\.text))
                for (hash, memory) in zip(entry.disclosed, named) {
                    out.append(DisclosureRecord(ts: entry.ts, peer: summary.with, name: name, conv: summary.id, seq: entry.seq, hash: Hex.encode(hash),
                                                text: memory?.text, visibility: memory?.visibility, visibilityNow: memory?.visibilityNow,
                                                inWords: memory.map { said.contains($0.text) }))
                }
            }
        }
        return out.sorted { ($0.ts, $0.seq) < ($1.ts, $1.seq) }
    }
}
