public import KithCrypto

/// A Kith identity: an Ed25519 public key, written as `did:key:z6Mk…`.
public struct Identity: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The identity's Ed25519 public key.
    public let publicKey: Ed25519.PublicKey

    /// The multicodec prefix for an Ed25519 public key (0xed, varint-encoded).
    static let multicodecPrefix: [UInt8] = [0xed, 0x01]

    /// Wraps a public key.
    public init(publicKey: Ed25519.PublicKey) {
        self.publicKey = publicKey
    }

    /// The identity of 32 raw public key bytes; throws on any other length.
    public init(publicKeyBytes: [UInt8]) throws(IdentityError) {
        do {
            self.publicKey = try Ed25519.PublicKey(bytes: publicKeyBytes)
        } catch {
            throw IdentityError("a public key must be 32 bytes, got \(publicKeyBytes.count)")
        }
    }

    /// Parses the text form `did:key:z…` (multibase base58btc of 0xed 0x01 ‖ key).
    public init(did: String) throws(IdentityError) {
        let prefix = "did:key:z"
        guard did.hasPrefix(prefix) else {
            throw IdentityError("'\(did.prefix(80))' is not a did:key identity: it must start with 'did:key:z'")
        }
        guard let decoded = Base58.decode(String(did.dropFirst(prefix.count))) else {
            throw IdentityError("'\(did.prefix(80))' has characters outside base58btc")
        }
        guard decoded.count == 34, Array(decoded.prefix(2)) == Identity.multicodecPrefix else {
            throw IdentityError("'\(did.prefix(80))' is not an Ed25519 did:key (expected multicodec 0xed01 and 32 key bytes)")
        }
        try self.init(publicKeyBytes: Array(decoded.dropFirst(2)))
        // Base58 has a single encoding per byte string, but reject anything that would not round-trip.
        guard self.did == did else { throw IdentityError("'\(did.prefix(80))' is not in canonical form") }
    }

    /// The 32 raw public key bytes.
    public var bytes: [UInt8] { publicKey.bytes }

    /// The text form `did:key:z6Mk…`.
    public var did: String { "did:key:z" + Base58.encode(Identity.multicodecPrefix + publicKey.bytes) }

    public var description: String { did }

    /// Bytewise order of the raw keys (used wherever two identities must be sorted).
    public static func < (lhs: Identity, rhs: Identity) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    /// True when `signature` over `message` verifies under this identity.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        publicKey.isValidSignature(signature, for: message)
    }
}

/// An identity string or key that could not be used.
public struct IdentityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong and, where possible, what to do.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
