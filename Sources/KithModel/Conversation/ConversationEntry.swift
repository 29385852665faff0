import KithCBOR
public import KithCrypto

/// One signed turn (type `entry`, signer `author`), chained to the previous one by `prev`.
public struct ConversationEntry: Sendable, Hashable {
    /// The signed object type.
    public static let type = "entry"
    /// Longest text, in bytes.
    public static let maxText = 4096
    /// Most disclosed memory hashes per entry.
    public static let maxDisclosed = 64
    /// Largest payload.
    public static let maxBytes = 8192

    /// What an entry does.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        /// An ordinary turn.
        case say
        /// The author proposes a connection.
        case propose
        /// The author accepts a proposal.
        case accept
        /// The author declines (a conversation or a proposal).
        case decline
        /// The author ends the conversation.
        case close
    }

    /// The conversation id.
    public var conv: [UInt8]
    /// 1, 2, 3, …
    public var seq: UInt64
    /// The conversation id for seq 1, else the hash of the previous entry.
    public var prev: [UInt8]
    /// The signer.
    public var author: Identity
    /// Time, ms since the epoch.
    public var ts: UInt64
    /// What the entry does.
    public var kind: Kind
    /// The words (UTF-8, at most 4 KiB).
    public var text: String
    /// The author's model commitment when it spoke.
    public var model: [UInt8]
    /// Hashes of the memory items the author's engine was given for this turn.
    public var disclosed: [[UInt8]]

    /// Creates an entry.
    public init(conv: [UInt8], seq: UInt64, prev: [UInt8], author: Identity, ts: UInt64, kind: Kind, text: String,
                model: [UInt8], disclosed: [[UInt8]]) {
        self.conv = conv
        self.seq = seq
        self.prev = prev
        self.author = author
        self.ts = ts
        self.kind = kind
        self.text = text
        self.model = model
        self.disclosed = disclosed
    }

    /// Signs the entry with its author's key.
    public func signed(with key: Ed25519.KeyPair) -> SignedObject {
        precondition(key.publicKey == author.publicKey, "an entry is signed by its author")
        return SignedObject.sign(type: Self.type, payload: .textMap([
            "v": 1, "conv": .bytes(conv), "seq": .unsigned(seq), "prev": .bytes(prev), "author": .bytes(author.bytes),
            "ts": .unsigned(ts), "kind": .text(kind.rawValue), "text": .text(text), "model": .bytes(model),
            "disclosed": .array(disclosed.map(CBOR.bytes)),
        ]), with: key)
    }

    /// Verifies one entry on its own: exact fields, limits, signature by `author`. Chain rules
    /// are checked by ``ConversationLog``.
    public static func verify(_ object: SignedObject) throws(SignedObjectError) -> ConversationEntry {
        let entry = try decode(object)
        guard object.isSigned(by: entry.author) else { throw .badSignature }
        return entry
    }

    /// Decodes and checks the fields without the signature (for batch verification).
    public static func decode(_ object: SignedObject) throws(SignedObjectError) -> ConversationEntry {
        guard object.type == type else { throw .malformed("expected an entry, got '\(object.type)'") }
        guard object.bytes.count <= maxBytes else { throw .malformed("entry over \(maxBytes) bytes") }
        let map = try object.payload(limits: CBORLimits(maxInputSize: maxBytes, maxDepth: 3))
        // Ten entries, each of the ten names read below (a missing one throws): exactly these keys.
        guard map.count == 10 else {
            throw .malformed("an entry has exactly v, conv, seq, prev, author, ts, kind, text, model, disclosed")
        }
        let f = FieldReader(map: map)
        guard try f.unsigned("v") == 1 else { throw .malformed("unsupported entry version") }
        guard let kind = Kind(rawValue: try f.text("kind")) else { throw .malformed("kind must be say, propose, accept, decline or close") }
        guard case .array(let items)? = map["disclosed"], items.count <= maxDisclosed else {
            throw .malformed("disclosed must be an array of at most \(maxDisclosed) hashes")
        }
        var disclosed: [[UInt8]] = []
        for item in items {
            guard case .bytes(let h) = item, h.count == 32 else { throw .malformed("disclosed holds 32-byte hashes") }
            disclosed.append(h)
        }
        let entry = ConversationEntry(conv: try f.bytes("conv", count: 32), seq: try f.unsigned("seq"), prev: try f.bytes("prev", count: 32),
                                      author: try f.identity("author"), ts: try f.unsigned("ts"), kind: kind, text: try f.text("text"),
                                      model: try f.bytes("model", count: 32), disclosed: disclosed)
        guard entry.seq >= 1 else { throw .invalid("seq starts at 1") }
        guard entry.text.utf8.count <= maxText else { throw .invalid("text over \(maxText) bytes") }
        return entry
    }
}
