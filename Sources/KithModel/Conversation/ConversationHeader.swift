import KithCBOR
public import KithCrypto

/// The signed opening of a conversation (type `header`, signer `from`). The conversation id is
/// the header's hash, BLAKE2b-256(bytes ‖ sig).
public struct ConversationHeader: Sendable, Hashable {
    /// The signed object type.
    public static let type = "header"
    /// Longest topic, in bytes.
    public static let maxTopic = 256
    /// Largest payload.
    public static let maxBytes = 1024

    /// The initiator (signer).
    public var from: Identity
    /// The responder.
    public var to: Identity
    /// What the conversation is about.
    public var topic: String
    /// Start time, ms since the epoch.
    public var ts: UInt64
    /// Network id.
    public var net: NetworkID
    /// Most turns (entries before the closing one) the initiator allows.
    public var maxTurns: UInt64

    /// Creates a header.
    public init(from: Identity, to: Identity, topic: String, ts: UInt64, net: NetworkID, maxTurns: UInt64) {
        self.from = from
        self.to = to
        self.topic = topic
        self.ts = ts
        self.net = net
        self.maxTurns = maxTurns
    }

    /// Signs the header with the initiator's key.
    public func signed(with key: Ed25519.KeyPair) -> SignedObject {
        precondition(key.publicKey == from.publicKey, "a header is signed by its initiator")
        return SignedObject.sign(type: Self.type, payload: .textMap([
            "v": 1, "from": .bytes(from.bytes), "to": .bytes(to.bytes), "topic": .text(topic), "ts": .unsigned(ts),
            "net": .bytes(net.bytes), "max_turns": .unsigned(maxTurns),
        ]), with: key)
    }

    /// Verifies a received header: exact fields, limits, signature by `from`.
    public static func verify(_ object: SignedObject) throws(SignedObjectError) -> ConversationHeader {
        guard object.type == type else { throw .malformed("expected a header, got '\(object.type)'") }
        guard object.bytes.count <= maxBytes else { throw .malformed("header over \(maxBytes) bytes") }
        let map = try object.payload(limits: CBORLimits(maxInputSize: maxBytes, maxDepth: 2))
        guard Set(map.keys) == ["v", "from", "to", "topic", "ts", "net", "max_turns"] else {
            throw .malformed("a header has exactly v, from, to, topic, ts, net, max_turns")
        }
        let f = FieldReader(map: map)
        guard try f.unsigned("v") == 1 else { throw .malformed("unsupported header version") }
        let header = ConversationHeader(from: try f.identity("from"), to: try f.identity("to"), topic: try f.text("topic"),
                                        ts: try f.unsigned("ts"), net: try NetworkID(bytes: f.bytes("net", count: 32)),
                                        maxTurns: try f.unsigned("max_turns"))
        guard header.from != header.to else { throw .invalid("a conversation needs two different identities") }
        guard header.topic.utf8.count <= maxTopic else { throw .invalid("topic over \(maxTopic) bytes") }
        guard (1...1_000_000).contains(header.maxTurns) else { throw .invalid("max_turns must be 1…1000000") }
        guard object.isSigned(by: header.from) else { throw .badSignature }
        return header
    }
}
