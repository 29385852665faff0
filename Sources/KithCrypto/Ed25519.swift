internal import CSodium

/// Ed25519 signatures (`crypto_sign`).
public enum Ed25519 {
    /// Public key length: 32 bytes.
    public static let publicKeyLength = 32
    /// Seed (secret) length: 32 bytes.
    public static let seedLength = 32
    /// Signature length: 64 bytes.
    public static let signatureLength = 64

    /// An Ed25519 public key.
    public struct PublicKey: Sendable, Hashable {
        /// The 32 raw key bytes.
        public let bytes: [UInt8]

        public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
            lhs.bytes.withUnsafeBytes { a in rhs.bytes.withUnsafeBytes { b in a.elementsEqual(b) } }
        }

        /// Hashes 8 of the key's bytes: keys are uniformly random, and identities are hashed on
        /// every graph step of gossip, so hashing all 32 bytes would dominate.
        public func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        }

        /// Wraps 32 raw key bytes; throws on any other length.
        public init(bytes: [UInt8]) throws(CryptoError) {
            guard bytes.count == Ed25519.publicKeyLength else {
                throw .invalidKeyLength(expected: Ed25519.publicKeyLength, got: bytes.count)
            }
            self.bytes = bytes
        }

        /// True when `signature` is a valid, canonical signature of `message` by this key.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            guard signature.count == Ed25519.signatureLength else { return false }
            Sodium.ensureInitialised()
            return signature.withUnsafeBufferPointer { s in
                message.withUnsafeBufferPointer { m in
                    bytes.withUnsafeBufferPointer { k in
                        crypto_sign_verify_detached(s.baseAddress!, m.baseAddress, UInt64(m.count), k.baseAddress!) == 0
                    }
                }
            }
        }

        /// The corresponding X25519 public key (birational map), or nil for keys that have none.
        public func x25519PublicKey() throws(CryptoError) -> [UInt8] {
            Sodium.ensureInitialised()
            var out = [UInt8](repeating: 0, count: X25519.keyLength)
            let rc = out.withUnsafeMutableBufferPointer { o in
                bytes.withUnsafeBufferPointer { k in
                    crypto_sign_ed25519_pk_to_curve25519(o.baseAddress!, k.baseAddress!)
                }
            }
            guard rc == 0 else { throw .invalidPublicKey }
            return out
        }
    }

    /// An Ed25519 signing key pair. The secret half lives in ``SecretBytes``.
    public struct KeyPair: Sendable {
        /// The public half.
        public let publicKey: PublicKey
        /// libsodium's 64-byte secret key (seed ‖ public key).
        private let secretKey: SecretBytes

        /// A fresh random key pair.
        public static func generate() -> KeyPair {
            let seed = SecretBytes.random(count: Ed25519.seedLength, locked: true)
            // A 32-byte seed always derives a key pair.
            return try! KeyPair(seed: seed)
        }

        /// The key pair derived from a 32-byte seed.
        public init(seed: SecretBytes) throws(CryptoError) {
            guard seed.count == Ed25519.seedLength else {
                throw .invalidKeyLength(expected: Ed25519.seedLength, got: seed.count)
            }
            Sodium.ensureInitialised()
            var pk = [UInt8](repeating: 0, count: Ed25519.publicKeyLength)
            let sk = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES), locked: true) { skBuf in
                seed.withUnsafeBytes { s in
                    pk.withUnsafeMutableBufferPointer { p in
                        _ = crypto_sign_seed_keypair(
                            p.baseAddress!,
                            skBuf.baseAddress!.assumingMemoryBound(to: UInt8.self),
                            s.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        )
                    }
                }
            }
            self.secretKey = sk
            self.publicKey = try PublicKey(bytes: pk)
        }

        /// The 32-byte seed this key pair derives from (secret).
        public func seed() -> SecretBytes {
            SecretBytes(count: Ed25519.seedLength) { out in
                secretKey.withUnsafeBytes { sk in
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: sk[0..<Ed25519.seedLength]))
                }
            }
        }

        /// Signs `message` (detached, deterministic).
        public func sign(_ message: [UInt8]) -> [UInt8] {
            Sodium.ensureInitialised()
            var sig = [UInt8](repeating: 0, count: Ed25519.signatureLength)
            sig.withUnsafeMutableBufferPointer { s in
                message.withUnsafeBufferPointer { m in
                    secretKey.withUnsafeBytes { sk in
                        _ = crypto_sign_detached(
                            s.baseAddress!, nil, m.baseAddress, UInt64(m.count),
                            sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        )
                    }
                }
            }
            return sig
        }

        /// The X25519 secret key corresponding to this signing key (secret).
        public func x25519SecretKey() -> SecretBytes {
            SecretBytes(count: X25519.keyLength) { out in
                secretKey.withUnsafeBytes { sk in
                    _ = crypto_sign_ed25519_sk_to_curve25519(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    )
                }
            }
        }
    }
}
