import KithCBOR
public import KithCrypto

/// One signed turn (type `entry`, signer `author`), chained to the previous one by `prev`.
///
/// Version 2 (written since `kithlog/2`) also says who produced the entry (``Producer``);
/// version 1 entries still verify, with no producer.
public struct ConversationEntry: Sendable, Hashable {
    /// The signed object type.
    public static let type = "entry"
    /// Longest text, in bytes.
    public static let maxText = 4096
    /// Most disclosed memory hashes per entry.
    public static let maxDisclosed = 64
    /// Largest payload.
    public static let maxBytes = 8192
    /// The version this implementation writes.
    public static let currentVersion: UInt64 = 2

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

    /// Who produced an entry's words (version 2): an AI engine, the person, or the node by a rule.
    public struct Producer: Sendable, Hashable, CustomStringConvertible {
        /// The kinds of producer.
        public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
            /// A persona engine spoke for the person.
            case ai
            /// The person typed it (`kith chat`) or ran the command that wrote it (`kith close`).
            case person
            /// The node wrote it by a rule: a policy refusal, an engine failure, an unfriend.
            case node
        }

        /// Longest `engine` text, in bytes.
        public static let maxEngine = 128

        /// Which kind.
        public let kind: Kind
        /// For `ai`: the engine kind, then `/` and the model name when the engine has one
        /// (`embedded`, `openai/smollm2-135m`); empty otherwise.
        public let engine: String

        /// An AI engine of kind `engine` (`[a-z0-9-]`, 1–32 characters), with its model name if any.
        /// Characters outside printable ASCII in a model name become `_`; a name too long for
        /// the field is cut.
        public static func ai(engine: String, model: String? = nil) -> Producer {
            let full = model.map { "\(engine)/\($0)" } ?? engine
            let printable = String(decoding: full.utf8.map { (0x21...0x7e).contains($0) ? $0 : 0x5f }.prefix(maxEngine), as: UTF8.self)
            return Producer(kind: .ai, engine: printable)
        }

        /// The person.
        public static let person = Producer(kind: .person, engine: "")
        /// The node, by a rule.
        public static let node = Producer(kind: .node, engine: "")

        /// Creates a producer; ``isValid`` tells whether it follows the rules.
        public init(kind: Kind, engine: String) {
            self.kind = kind
            self.engine = engine
        }

        /// True when the pair follows the rules of `Protocol/conversation.md`.
        public var isValid: Bool {
            switch kind {
            case .ai:
                guard engine.utf8.count <= Self.maxEngine else { return false }
                let engineKind = engine.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)[0]
                // Printable ASCII only: nothing an audit prints can reorder or hide text on a terminal.
                return (1...32).contains(engineKind.utf8.count)
                    && engineKind.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }
                    && engine.utf8.allSatisfy { (0x21...0x7e).contains($0) }
            case .person, .node:
                return engine.isEmpty
            }
        }

        /// `ai (embedded)`, `person`, `node`.
        public var description: String { kind == .ai ? "ai (\(engine))" : kind.rawValue }
    }

    /// 1 or 2.
    public var version: UInt64
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
    /// The author's model commitment when it spoke (version 2: the `model` of a manifest by the
    /// author that the conversation carries).
    public var model: [UInt8]
    /// Hashes of the memory items the author's engine was given for this turn.
    public var disclosed: [[UInt8]]
    /// Who produced the words; nil in version 1.
    public var producer: Producer?

    /// Creates an entry: version 2 with a producer, version 1 without.
    public init(conv: [UInt8], seq: UInt64, prev: [UInt8], author: Identity, ts: UInt64, kind: Kind, text: String,
                model: [UInt8], disclosed: [[UInt8]], producer: Producer?) {
        version = producer == nil ? 1 : 2
        self.conv = conv
        self.seq = seq
        self.prev = prev
        self.author = author
        self.ts = ts
        self.kind = kind
        self.text = text
        self.model = model
        self.disclosed = disclosed
        self.producer = producer
    }

    /// Signs the entry with its author's key.
    public func signed(with key: Ed25519.KeyPair) -> SignedObject {
        precondition(key.publicKey == author.publicKey, "an entry is signed by its author")
        var fields: [String: CBOR] = [
            "v": .unsigned(version), "conv": .bytes(conv), "seq": .unsigned(seq), "prev": .bytes(prev), "author": .bytes(author.bytes),
            "ts": .unsigned(ts), "kind": .text(kind.rawValue), "text": .text(text), "model": .bytes(model),
            "disclosed": .array(disclosed.map(CBOR.bytes)),
        ]
        if let producer {
            fields["by"] = .text(producer.kind.rawValue)
            fields["engine"] = .text(producer.engine)
        }
        return SignedObject.sign(type: Self.type, payload: .textMap(fields), with: key)
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
        let f = FieldReader(map: map)
        let version = try f.unsigned("v")
        // Every name below is read (a missing one throws), so the count pins exactly these keys.
        switch version {
        case 1:
            guard map.count == 10 else {
                throw .malformed("a version 1 entry has exactly v, conv, seq, prev, author, ts, kind, text, model, disclosed")
            }
        case 2:
            guard map.count == 12 else {
                throw .malformed("a version 2 entry has exactly v, conv, seq, prev, author, ts, kind, text, model, disclosed, by, engine")
            }
        default:
            throw .malformed("unsupported entry version")
        }
        guard let kind = Kind(rawValue: try f.text("kind")) else { throw .malformed("kind must be say, propose, accept, decline or close") }
        guard case .array(let items)? = map["disclosed"], items.count <= maxDisclosed else {
            throw .malformed("disclosed must be an array of at most \(maxDisclosed) hashes")
        }
        var disclosed: [[UInt8]] = []
        for item in items {
            guard case .bytes(let h) = item, h.count == 32 else { throw .malformed("disclosed holds 32-byte hashes") }
            disclosed.append(h)
        }
        var producer: Producer?
        if version == 2 {
            guard let by = Producer.Kind(rawValue: try f.text("by")) else { throw .malformed("by must be ai, person or node") }
            let p = Producer(kind: by, engine: try f.text("engine"))
            guard p.isValid else {
                throw .invalid("engine must be KIND[/MODEL] (KIND 1–32 of a-z, 0-9, -; at most \(Producer.maxEngine) bytes) for ai, and empty otherwise")
            }
            producer = p
        }
        let entry = ConversationEntry(conv: try f.bytes("conv", count: 32), seq: try f.unsigned("seq"), prev: try f.bytes("prev", count: 32),
                                      author: try f.identity("author"), ts: try f.unsigned("ts"), kind: kind, text: try f.text("text"),
                                      model: try f.bytes("model", count: 32), disclosed: disclosed, producer: producer)
        guard entry.seq >= 1 else { throw .invalid("seq starts at 1") }
        guard entry.text.utf8.count <= maxText else { throw .invalid("text over \(maxText) bytes") }
        return entry
    }
}
