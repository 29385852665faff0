internal import CSodium

/// X25519 Diffie-Hellman (`crypto_scalarmult_curve25519`).
public enum X25519 {
    /// Key and shared-secret length: 32 bytes.
    public static let keyLength = 32

    /// An X25519 key pair for key agreement.
    public struct KeyPair: Sendable {
        /// The 32-byte public key.
        public let publicKey: [UInt8]
        /// The 32-byte secret scalar.
        public let secretKey: SecretBytes

        /// A fresh random key pair.
        public static func generate() -> KeyPair {
            let sk = SecretBytes.random(count: X25519.keyLength)
            return try! KeyPair(secretKey: sk)
        }

        /// The key pair with the given 32-byte secret scalar.
        public init(secretKey: SecretBytes) throws(CryptoError) {
            guard secretKey.count == X25519.keyLength else {
                throw .invalidKeyLength(expected: X25519.keyLength, got: secretKey.count)
            }
            Sodium.ensureInitialised()
            var pk = [UInt8](repeating: 0, count: X25519.keyLength)
            pk.withUnsafeMutableBufferPointer { p in
                secretKey.withUnsafeBytes { s in
                    _ = crypto_scalarmult_curve25519_base(p.baseAddress!, s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            self.publicKey = pk
            self.secretKey = secretKey
        }
    }

    /// The shared secret of `secretKey` and `publicKey`. Throws ``CryptoError/weakSharedSecret``
    /// when the result is all zeros (a low-order public key).
    public static func sharedSecret(secretKey: SecretBytes, publicKey: [UInt8]) throws(CryptoError) -> SecretBytes {
        guard secretKey.count == keyLength else { throw .invalidKeyLength(expected: keyLength, got: secretKey.count) }
        guard publicKey.count == keyLength else { throw .invalidKeyLength(expected: keyLength, got: publicKey.count) }
        Sodium.ensureInitialised()
        var rc: Int32 = 0
        let out = SecretBytes(count: keyLength) { o in
            secretKey.withUnsafeBytes { s in
                publicKey.withUnsafeBufferPointer { p in
                    rc = crypto_scalarmult_curve25519(
                        o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        s.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        p.baseAddress!
                    )
                }
            }
        }
        guard rc == 0 else { throw .weakSharedSecret }
        return out
    }
}
