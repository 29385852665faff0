internal import CSodium

/// Passphrase protection for small secrets: Argon2id (`crypto_pwhash`) derives a key that seals
/// the secret with XSalsa20-Poly1305 (`crypto_secretbox`).
public enum PasswordBox {
    /// Argon2id salt length: 16 bytes.
    public static let saltLength = Int(crypto_pwhash_SALTBYTES)
    /// secretbox nonce length: 24 bytes.
    public static let nonceLength = Int(crypto_secretbox_NONCEBYTES)

    /// Argon2id cost parameters, stored next to the sealed secret.
    public struct Cost: Sendable, Hashable {
        /// Number of passes.
        public var opsLimit: UInt64
        /// Memory in bytes.
        public var memLimit: UInt64

        /// libsodium's "moderate" interactive cost (3 passes, 256 MiB).
        public static let moderate = Cost(
            opsLimit: UInt64(crypto_pwhash_OPSLIMIT_MODERATE), memLimit: UInt64(crypto_pwhash_MEMLIMIT_MODERATE))
        /// libsodium's "interactive" cost (2 passes, 64 MiB), for tests and small machines.
        public static let interactive = Cost(
            opsLimit: UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE), memLimit: UInt64(crypto_pwhash_MEMLIMIT_INTERACTIVE))

        /// Creates a cost.
        public init(opsLimit: UInt64, memLimit: UInt64) {
            self.opsLimit = opsLimit
            self.memLimit = memLimit
        }

        /// True when the parameters are within libsodium's accepted Argon2id range and at most
        /// 4 GiB of memory (so a hostile file cannot make us allocate without bound).
        public var isAcceptable: Bool {
            opsLimit >= UInt64(crypto_pwhash_OPSLIMIT_MIN) && opsLimit <= 64
                && memLimit >= UInt64(crypto_pwhash_MEMLIMIT_MIN) && memLimit <= 4 << 30
        }
    }

    /// The result of sealing: everything but the passphrase needed to open it again.
    public struct Sealed: Sendable, Hashable {
        /// Argon2id salt.
        public var salt: [UInt8]
        /// secretbox nonce.
        public var nonce: [UInt8]
        /// Ciphertext ‖ 16-byte tag.
        public var box: [UInt8]
        /// The Argon2id cost used.
        public var cost: Cost

        /// Creates a sealed value from its parts.
        public init(salt: [UInt8], nonce: [UInt8], box: [UInt8], cost: Cost) {
            self.salt = salt
            self.nonce = nonce
            self.box = box
            self.cost = cost
        }
    }

    /// Seals `secret` under `passphrase`.
    public static func seal(_ secret: SecretBytes, passphrase: SecretBytes, cost: Cost = .moderate) throws(CryptoError) -> Sealed {
        let salt = Random.bytes(saltLength)
        let nonce = Random.bytes(nonceLength)
        let key = try deriveKey(passphrase: passphrase, salt: salt, cost: cost)
        var box = [UInt8](repeating: 0, count: secret.count + Int(crypto_secretbox_MACBYTES))
        box.withUnsafeMutableBufferPointer { b in
            secret.withUnsafeBytes { m in
                nonce.withUnsafeBufferPointer { n in
                    key.withUnsafeBytes { k in
                        _ = crypto_secretbox_easy(
                            b.baseAddress!, m.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(m.count),
                            n.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        return Sealed(salt: salt, nonce: nonce, box: box, cost: cost)
    }

    /// Opens a sealed secret; throws ``CryptoError/decryptionFailed`` for a wrong passphrase or
    /// tampered data.
    public static func open(_ sealed: Sealed, passphrase: SecretBytes) throws(CryptoError) -> SecretBytes {
        guard sealed.salt.count == saltLength else { throw .invalidLength("salt must be \(saltLength) bytes") }
        guard sealed.nonce.count == nonceLength else { throw .invalidLength("nonce must be \(nonceLength) bytes") }
        let mac = Int(crypto_secretbox_MACBYTES)
        guard sealed.box.count >= mac else { throw .decryptionFailed }
        let key = try deriveKey(passphrase: passphrase, salt: sealed.salt, cost: sealed.cost)
        var rc: Int32 = 0
        let plain = SecretBytes(count: sealed.box.count - mac) { out in
            sealed.box.withUnsafeBufferPointer { b in
                sealed.nonce.withUnsafeBufferPointer { n in
                    key.withUnsafeBytes { k in
                        rc = crypto_secretbox_open_easy(
                            out.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafeMutablePointer(mutating: b.baseAddress!),
                            b.baseAddress!, UInt64(b.count), n.baseAddress!,
                            k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        guard rc == 0 else { throw .decryptionFailed }
        return plain
    }

    private static func deriveKey(passphrase: SecretBytes, salt: [UInt8], cost: Cost) throws(CryptoError) -> SecretBytes {
        guard cost.isAcceptable else { throw .invalidLength("Argon2id cost parameters out of range") }
        Sodium.ensureInitialised()
        var rc: Int32 = 0
        let key = SecretBytes(count: Int(crypto_secretbox_KEYBYTES)) { k in
            passphrase.withUnsafeBytes { p in
                salt.withUnsafeBufferPointer { s in
                    rc = crypto_pwhash(
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(k.count),
                        p.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(p.count),
                        s.baseAddress!, cost.opsLimit, Int(cost.memLimit), crypto_pwhash_ALG_ARGON2ID13)
                }
            }
        }
        guard rc == 0 else { throw .keyDerivationFailed }
        return key
    }
}
