import KithCrypto

/// Noise SymmetricState (spec §5.2) for `25519_ChaChaPoly_BLAKE2b`.
struct NoiseSymmetricState: Sendable {
    static let hashLength = 64

    var cipher = NoiseCipherState()
    private var chainingKey: SecretBytes
    private(set) var handshakeHash: [UInt8]

    init(protocolName: String) {
        let name = Array(protocolName.utf8)
        let h = name.count <= Self.hashLength
            ? name + [UInt8](repeating: 0, count: Self.hashLength - name.count)
            : BLAKE2b.hash(name, length: Self.hashLength)
        handshakeHash = h
        var ck = h
        chainingKey = SecretBytes(consuming: &ck)
    }

    mutating func mixKey(_ inputKeyMaterial: SecretBytes) {
        let out = HMACBLAKE2b.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 2)
        chainingKey = out[0]
        cipher.initializeKey(out[1].prefix(32))
    }

    mutating func mixHash(_ data: [UInt8]) {
        handshakeHash = BLAKE2b.hash(handshakeHash, data, length: Self.hashLength)
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(ad: handshakeHash, plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipher.decrypt(ad: handshakeHash, ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// The two transport cipher states (initiator→responder, responder→initiator).
    func split() -> (NoiseCipherState, NoiseCipherState) {
        let out = HMACBLAKE2b.hkdf(chainingKey: chainingKey, inputKeyMaterial: nil, outputs: 2)
        return (NoiseCipherState(key: out[0].prefix(32)), NoiseCipherState(key: out[1].prefix(32)))
    }
}
