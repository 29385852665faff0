public import KithCrypto

/// One side's statement about a friendship: signed object type `connection` (I connect) or
/// `revocation` (I no longer do), with fields `v` (1), `a` and `b` (the two identities' keys,
/// sorted bytewise), `ts` and `by` (the signer, `a` or `b`). Per signer and pair the statement
/// with the highest `ts` stands (a revocation wins a tie). A friendship holds when both `a` and
/// `b` stand by a `connection` for the pair.
public struct ConnectionRecord: Sendable, Hashable {
    /// The signed object type of a connection.
    public static let type = "connection"
    /// The signed object type of a revocation.
    public static let revocationType = "revocation"

    /// Connect or revoke.
    public enum Kind: String, Sendable, Hashable {
        /// The signer connects.
        case connection
        /// The signer ends the friendship.
        case revocation
    }

    /// What the signer states.
    public let kind: Kind
    /// Largest payload.
    public static let maxBytes = 256

    /// The bytewise smaller identity.
    public let a: Identity
    /// The bytewise larger identity.
    public let b: Identity
    /// When it was signed, ms since the epoch.
    public let ts: UInt64
    /// Who signed it: `a` or `b`.
    public let by: Identity

    /// A record for the pair `{signer, other}` signed by `signer`.
    public init(signer: Identity, other: Identity, ts: UInt64, kind: Kind = .connection) {
        precondition(signer != other, "a connection needs two identities")
        (a, b) = signer < other ? (signer, other) : (other, signer)
        self.ts = ts
        self.by = signer
        self.kind = kind
    }

    /// True when this statement replaces `other` (same signer and pair): a higher `ts`, or the
    /// same `ts` and this one is a revocation while the other is not.
    public func supersedes(_ other: ConnectionRecord) -> Bool {
        ts > other.ts || (ts == other.ts && kind == .revocation && other.kind == .connection)
    }

    /// The identity in the pair that is not `me`.
    public func other(than me: Identity) -> Identity { me == a ? b : a }

    /// True when the record is about `x` and `y` (in either order).
    public func joins(_ x: Identity, _ y: Identity) -> Bool { (a == x && b == y) || (a == y && b == x) }

    /// Signs the record; `key` must belong to ``by``.
    public func signed(with key: Ed25519.KeyPair) -> SignedObject {
        precondition(key.publicKey == by.publicKey, "a connection record is signed by its `by`")
        return SignedObject.sign(type: kind.rawValue, payload: .textMap([
            "v": 1, "a": .bytes(a.bytes), "b": .bytes(b.bytes), "ts": .unsigned(ts), "by": .bytes(by.bytes),
        ]), with: key)
    }

    /// Verifies a received record: exact fields, sorted distinct pair, `by` in the pair, signature.
    public static func verify(_ object: SignedObject) throws(SignedObjectError) -> ConnectionRecord {
        guard let kind = Kind(rawValue: object.type) else {
            throw .malformed("expected a connection or revocation record, got '\(object.type)'")
        }
        guard object.bytes.count <= maxBytes else { throw .malformed("connection record over \(maxBytes) bytes") }
        let map = try object.payload(limits: .init(maxInputSize: maxBytes, maxDepth: 2))
        guard Set(map.keys) == ["v", "a", "b", "ts", "by"] else { throw .malformed("a connection record has exactly v, a, b, ts, by") }
        let fields = FieldReader(map: map)
        guard try fields.unsigned("v") == 1 else { throw .malformed("unsupported connection record version") }
        let a = try fields.identity("a"), b = try fields.identity("b"), by = try fields.identity("by")
        guard a < b else { throw .invalid("a must sort before b (and differ from it)") }
        guard by == a || by == b else { throw .invalid("the signer must be a or b") }
        let record = ConnectionRecord(signer: by, other: by == a ? b : a, ts: try fields.unsigned("ts"), kind: kind)
        guard object.isSigned(by: by) else { throw .badSignature }
        return record
    }
}
