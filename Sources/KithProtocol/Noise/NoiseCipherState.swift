import KithCrypto

/// Noise CipherState (spec §5.1) with ChaChaPoly: a key and a 64-bit nonce counter.
public struct NoiseCipherState: Sendable {
    private var key: SecretBytes?
    /// The next nonce.
    public private(set) var nonce: UInt64 = 0

    /// Largest plaintext a transport message may carry (65535 − 16-byte tag).
    public static let maxPlaintext = 65_535 - ChaCha20Poly1305.tagLength

    init(key: SecretBytes? = nil) {
        self.key = key
    }

    /// True once a key is set.
    public var hasKey: Bool { key != nil }

    mutating func initializeKey(_ key: SecretBytes) {
        self.key = key
        nonce = 0
    }

    /// Nonce 2⁶⁴−1 is reserved (spec §5.1); reaching it ends the session.
    private mutating func nextNonce() throws(NoiseError) -> [UInt8] {
        guard nonce < UInt64.max else { throw .nonceExhausted }
        var n = [UInt8](repeating: 0, count: 12)
        var v = nonce
        for i in 4..<12 {
            n[i] = UInt8(truncatingIfNeeded: v)
            v >>= 8
        }
        nonce += 1
        return n
    }

    /// Runs one AEAD operation with the key and the next nonce. A failure does not advance the
    /// nonce, but the caller must end the session anyway.
    private mutating func withNextNonce<R>(
        _ operation: (SecretBytes, [UInt8]) throws(CryptoError) -> R
    ) throws(NoiseError) -> R {
        guard let key else { throw .missingKey("transport encryption before the handshake completed") }
        let saved = nonce
        let n = try nextNonce()
        do { return try operation(key, n) } catch {
            nonce = saved
            throw .decryptionFailed
        }
    }

    /// Encrypts with associated data; the identity function before a key is set.
    public mutating func encrypt(ad: [UInt8] = [], _ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard hasKey else { return plaintext }
        return try withNextNonce { (key, n) throws(CryptoError) in try ChaCha20Poly1305.seal(plaintext, key: key, nonce: n, ad: ad) }
    }

    /// Decrypts with associated data; the identity function before a key is set.
    public mutating func decrypt(ad: [UInt8] = [], _ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard hasKey else { return ciphertext }
        return try withNextNonce { (key, n) throws(CryptoError) in try ChaCha20Poly1305.open(ciphertext, key: key, nonce: n, ad: ad) }
    }

    /// Encrypts (no associated data) straight into `out`, which must hold exactly
    /// `plaintext.count + 16` bytes. Requires a key.
    mutating func encrypt(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        try withNextNonce { (key, n) throws(CryptoError) in try ChaCha20Poly1305.seal(plaintext, into: out, key: key, nonce: n) }
    }

    /// Decrypts (no associated data) bytes read in place. Requires a key.
    mutating func decrypt(_ ciphertext: UnsafeRawBufferPointer) throws(NoiseError) -> [UInt8] {
        try withNextNonce { (key, n) throws(CryptoError) in try ChaCha20Poly1305.open(ciphertext, key: key, nonce: n) }
    }

    /// Moves the nonce counter (tests of nonce exhaustion only).
    public mutating func setNonceForTesting(_ value: UInt64) { nonce = value }
}
