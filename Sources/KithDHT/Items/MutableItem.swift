public import KithCrypto

/// A BEP 44 mutable item: a value of at most 1,000 bencoded bytes under an Ed25519 key and an
/// optional salt, ordered by `seq` and signed over `[4:salt<len>:<salt>]3:seqi<seq>e1:v<value>`.
public struct MutableItem: Sendable, Hashable {
    /// The signer's Ed25519 public key (32 bytes).
    public let key: [UInt8]
    /// Salt appended to the key for the target (at most 64 bytes; empty when none).
    public let salt: [UInt8]
    /// Sequence number; a storing node keeps only the highest.
    public let seq: Int64
    /// The value.
    public let value: Bencode
    /// Ed25519 signature over ``signable``.
    public let signature: [UInt8]

    /// Largest encoded value (BEP 44).
    public static let maxValueBytes = 1_000
    /// Longest salt (BEP 44).
    public static let maxSaltBytes = 64

    /// An item as received; check it with ``isValid``.
    public init(key: [UInt8], salt: [UInt8], seq: Int64, value: Bencode, signature: [UInt8]) {
        self.key = key
        self.salt = salt
        self.seq = seq
        self.value = value
        self.signature = signature
    }

    /// Signs `value` at `seq` with `keyPair`.
    public static func signed(value: Bencode, seq: Int64, salt: [UInt8] = [], keyPair: Ed25519.KeyPair) -> MutableItem {
        let signature = keyPair.sign(signable(salt: salt, seq: seq, encodedValue: value.encoded()))
        return MutableItem(key: keyPair.publicKey.bytes, salt: salt, seq: seq, value: value, signature: signature)
    }

    /// The bytes a BEP 44 signature covers.
    public static func signable(salt: [UInt8], seq: Int64, encodedValue: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if !salt.isEmpty {
            Bencode.appendBytes(Array("salt".utf8), to: &out)
            Bencode.appendBytes(salt, to: &out)
        }
        out.append(contentsOf: Array("3:seqi".utf8) + Array(String(seq).utf8) + Array("e1:v".utf8))
        out.append(contentsOf: encodedValue)
        return out
    }

    /// The DHT target of `key` and `salt`: SHA-1(key ‖ salt).
    public static func target(key: [UInt8], salt: [UInt8] = []) -> NodeID { NodeID.sha1(key + salt) }

    /// This item's target.
    public var target: NodeID { Self.target(key: key, salt: salt) }

    /// Whether sizes are within BEP 44 limits, `seq` is not negative and the signature verifies.
    public var isValid: Bool {
        let encoded = value.encoded()
        guard encoded.count <= Self.maxValueBytes, salt.count <= Self.maxSaltBytes, seq >= 0,
              signature.count == Ed25519.signatureLength,
              let publicKey = try? Ed25519.PublicKey(bytes: key)
        else { return false }
        return publicKey.isValidSignature(signature, for: Self.signable(salt: salt, seq: seq, encodedValue: encoded))
    }
}
