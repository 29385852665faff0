/// HMAC (RFC 2104) over unkeyed BLAKE2b-512, as the Noise Protocol Framework defines it for
/// `BLAKE2b` (HASHLEN 64, BLOCKLEN 128), and the HKDF built on it.
public enum HMACBLAKE2b {
    /// BLAKE2b's block length: 128 bytes.
    public static let blockLength = 128
    /// Output length: 64 bytes.
    public static let outputLength = 64

    /// HMAC-BLAKE2b(key, concatenation of `parts`). The result is secret.
    public static func authenticate(key: SecretBytes, _ parts: [[UInt8]]) -> SecretBytes {
        var k = key.withUnsafeBytes { Array($0) }
        defer { SecretBytes.zero(&k) }
        if k.count > blockLength { k = BLAKE2b.hash(k, length: 64) }
        var ipad = [UInt8](repeating: 0x36, count: blockLength)
        var opad = [UInt8](repeating: 0x5c, count: blockLength)
        defer { SecretBytes.zero(&ipad); SecretBytes.zero(&opad) }
        for i in 0..<k.count {
            ipad[i] ^= k[i]
            opad[i] ^= k[i]
        }
        var inner = BLAKE2b.hash(parts: [ipad] + parts, length: 64)
        defer { SecretBytes.zero(&inner) }
        var outer = BLAKE2b.hash(parts: [opad, inner], length: 64)
        return SecretBytes(consuming: &outer)
    }

    /// Noise's HKDF(chaining key, input key material, n) for n = 2 or 3: 64-byte outputs.
    public static func hkdf(chainingKey: SecretBytes, inputKeyMaterial: SecretBytes?, outputs: Int) -> [SecretBytes] {
        precondition((2...3).contains(outputs), "Noise HKDF yields 2 or 3 outputs")
        var ikm = inputKeyMaterial?.withUnsafeBytes { Array($0) } ?? []
        defer { SecretBytes.zero(&ikm) }
        let tempKey = authenticate(key: chainingKey, [ikm])
        let out1 = authenticate(key: tempKey, [[0x01]])
        var previous = out1.withUnsafeBytes { Array($0) }
        defer { SecretBytes.zero(&previous) }
        let out2 = authenticate(key: tempKey, [previous, [0x02]])
        guard outputs == 3 else { return [out1, out2] }
        var previous2 = out2.withUnsafeBytes { Array($0) }
        defer { SecretBytes.zero(&previous2) }
        return [out1, out2, authenticate(key: tempKey, [previous2, [0x03]])]
    }
}

extension SecretBytes {
    /// The first `count` bytes as a new secret.
    public func prefix(_ count: Int) -> SecretBytes {
        precondition(count <= self.count)
        return SecretBytes(count: count) { out in
            withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
    }
}
