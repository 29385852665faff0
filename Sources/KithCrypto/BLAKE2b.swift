internal import CSodium

/// BLAKE2b (`crypto_generichash`), Kith's one hash function.
public enum BLAKE2b {
    /// The digest length used everywhere in Kith: 32 bytes (BLAKE2b-256).
    public static let digestLength = 32

    /// BLAKE2b with a `length`-byte digest (16...64) over the concatenation of `parts`, keyed with
    /// `key` (0...64 bytes) when given.
    public static func hash(
        _ parts: [UInt8]...,
        length: Int = digestLength,
        key: [UInt8]? = nil
    ) -> [UInt8] {
        hash(parts: parts, length: length, key: key)
    }

    /// BLAKE2b over the concatenation of `parts`, as ``hash(_:length:key:)``.
    public static func hash(parts: [[UInt8]], length: Int = digestLength, key: [UInt8]? = nil) -> [UInt8] {
        precondition((16...64).contains(length), "BLAKE2b digest length must be 16...64")
        precondition((key?.count ?? 0) <= 64, "BLAKE2b key must be at most 64 bytes")
        Sodium.ensureInitialised()
        // The state struct is 64-byte aligned in C, which Swift imports as opaque.
        let stateBytes = crypto_generichash_statebytes()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stateBytes, alignment: 64)
        defer {
            sodium_memzero(raw, stateBytes)
            raw.deallocate()
        }
        let state = OpaquePointer(raw)
        let keyBytes = key ?? []
        keyBytes.withUnsafeBufferPointer { k in
            _ = crypto_generichash_init(state, k.baseAddress, k.count, length)
        }
        for part in parts {
            part.withUnsafeBufferPointer { p in
                _ = crypto_generichash_update(state, p.baseAddress, UInt64(p.count))
            }
        }
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBufferPointer { o in
            _ = crypto_generichash_final(state, o.baseAddress!, length)
        }
        return out
    }

    /// BLAKE2b keyed with secret key material, over the concatenation of `parts`.
    public static func hash(parts: [[UInt8]], length: Int = digestLength, key: SecretBytes) -> [UInt8] {
        var keyCopy = key.withUnsafeBytes { Array($0) }
        defer { SecretBytes.zero(&keyCopy) }
        return hash(parts: parts, length: length, key: keyCopy)
    }
}
