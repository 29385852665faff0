import KithCBOR
public import KithCrypto

/// A participant's signature over the final head of a conversation (type `seal`, signer `by`).
/// A conversation is complete when both participants sealed the same head and count.
public struct ConversationSeal: Sendable, Hashable {
    /// The signed object type.
    public static let type = "seal"

    /// The conversation id.
    public var conv: [UInt8]
    /// Hash of the last entry.
    public var head: [UInt8]
    /// Number of entries.
    public var count: UInt64
    /// The signer.
    public var by: Identity

    /// Creates a seal.
    public init(conv: [UInt8], head: [UInt8], count: UInt64, by: Identity) {
        self.conv = conv
        self.head = head
        self.count = count
        self.by = by
    }

    /// Signs the seal with its signer's key.
    public func signed(with key: Ed25519.KeyPair) -> SignedObject {
        precondition(key.publicKey == by.publicKey, "a seal is signed by its `by`")
        return SignedObject.sign(type: Self.type, payload: .textMap([
            "v": 1, "conv": .bytes(conv), "head": .bytes(head), "count": .unsigned(count), "by": .bytes(by.bytes),
        ]), with: key)
    }

    /// Verifies a seal: exact fields and the signature by `by`.
    public static func verify(_ object: SignedObject) throws(SignedObjectError) -> ConversationSeal {
        guard object.type == type else { throw .malformed("expected a seal, got '\(object.type)'") }
        guard object.bytes.count <= 512 else { throw .malformed("seal over 512 bytes") }
        let map = try object.payload(limits: CBORLimits(maxInputSize: 512, maxDepth: 2))
        guard Set(map.keys) == ["v", "conv", "head", "count", "by"] else { throw .malformed("a seal has exactly v, conv, head, count, by") }
        let f = FieldReader(map: map)
        guard try f.unsigned("v") == 1 else { throw .malformed("unsupported seal version") }
        let seal = ConversationSeal(conv: try f.bytes("conv", count: 32), head: try f.bytes("head", count: 32),
                                    count: try f.unsigned("count"), by: try f.identity("by"))
        guard object.isSigned(by: seal.by) else { throw .badSignature }
        return seal
    }
}
