internal import CSodium

/// Comparisons whose timing does not depend on the bytes compared.
public enum ConstantTime {
    /// True when both buffers have the same length and contents; runs in time that depends only
    /// on the length.
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.count == 0 { return true }
        Sodium.ensureInitialised()
        return sodium_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
    }

    /// True when both byte arrays are equal; runs in time that depends only on the length.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in equals(pa, pb) } }
    }
}
