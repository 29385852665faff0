internal import CSodium

/// ChaCha20-Poly1305 AEAD, IETF variant (`crypto_aead_chacha20poly1305_ietf`).
public enum ChaCha20Poly1305 {
    /// Key length: 32 bytes.
    public static let keyLength = 32
    /// Nonce length: 12 bytes.
    public static let nonceLength = 12
    /// Authentication tag length: 16 bytes.
    public static let tagLength = 16

    /// Encrypts `plaintext` and authenticates it together with `ad`; returns ciphertext ‖ tag.
    public static func seal(
        _ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], ad: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + tagLength)
        try plaintext.withUnsafeBytes { p in
            out.withUnsafeMutableBytes { o in
                Result { () throws(CryptoError) in try seal(p, into: o, key: key, nonce: nonce, ad: ad) }
            }
        }.get()
        return out
    }

    /// Verifies and decrypts ciphertext ‖ tag; throws ``CryptoError/decryptionFailed`` on any
    /// mismatch.
    public static func open(
        _ sealed: [UInt8], key: SecretBytes, nonce: [UInt8], ad: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        try sealed.withUnsafeBytes { s in
            Result { () throws(CryptoError) in try open(s, key: key, nonce: nonce, ad: ad) }
        }.get()
    }

    /// Encrypts `plaintext` (with `ad`) into `out`, which must hold exactly `plaintext.count +
    /// tagLength` bytes (ciphertext ‖ tag), without allocating; for callers that frame messages
    /// in place.
    public static func seal(
        _ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, key: SecretBytes, nonce: [UInt8],
        ad: [UInt8] = []
    ) throws(CryptoError) {
        try check(key: key, nonce: nonce)
        guard out.count == plaintext.count + tagLength else { throw .invalidLength("output must be plaintext + \(tagLength) bytes") }
        var outLen: UInt64 = 0
        ad.withUnsafeBufferPointer { a in
            nonce.withUnsafeBufferPointer { n in
                key.withUnsafeBytes { k in
                    _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), &outLen,
                        plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                        a.baseAddress, UInt64(a.count), nil, n.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    )
                }
            }
        }
    }

    /// Verifies and decrypts ciphertext ‖ tag read in place; throws
    /// ``CryptoError/decryptionFailed`` on any mismatch.
    public static func open(
        _ sealed: UnsafeRawBufferPointer, key: SecretBytes, nonce: [UInt8], ad: [UInt8] = []
    ) throws(CryptoError) -> [UInt8] {
        try check(key: key, nonce: nonce)
        guard sealed.count >= tagLength else { throw .decryptionFailed }
        var outLen: UInt64 = 0
        var out = [UInt8](repeating: 0, count: sealed.count - tagLength)
        let rc = out.withUnsafeMutableBufferPointer { o in
            ad.withUnsafeBufferPointer { a in
                nonce.withUnsafeBufferPointer { n in
                    key.withUnsafeBytes { k in
                        crypto_aead_chacha20poly1305_ietf_decrypt(
                            o.baseAddress, &outLen, nil, sealed.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(sealed.count),
                            a.baseAddress, UInt64(a.count), n.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        )
                    }
                }
            }
        }
        guard rc == 0 else { throw .decryptionFailed }
        return out
    }

    private static func check(key: SecretBytes, nonce: [UInt8]) throws(CryptoError) {
        guard key.count == keyLength else { throw .invalidKeyLength(expected: keyLength, got: key.count) }
        guard nonce.count == nonceLength else { throw .invalidLength("nonce must be \(nonceLength) bytes") }
        Sodium.ensureInitialised()
    }
}
