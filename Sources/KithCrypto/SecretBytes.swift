internal import CSodium

/// Secret key material held in memory that is zeroed (`sodium_memzero`) when released.
///
/// The bytes never leave this object as a copyable array except through
/// ``withUnsafeBytes(_:)``; callers that copy them out own the duty to zero the copy.
public final class SecretBytes: @unchecked Sendable {
    // Sendable: `storage` is written only in `init` and zeroed in `deinit`; between the two the
    // buffer is read-only, so concurrent readers never race with a writer.
    private let storage: UnsafeMutableRawBufferPointer

    /// The number of secret bytes.
    public let count: Int

    /// Whether the pages are locked against swapping (`sodium_mlock`).
    private let locked: Bool

    /// Creates `count` bytes filled by `fill`, which writes into the fresh buffer.
    /// - Parameter locked: lock the memory against swapping; worth its two system calls only for
    ///   long-lived keys (identity keys, passphrases), not for per-handshake temporaries.
    public init(count: Int, locked: Bool = false, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialised()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        sodium_memzero(buffer.baseAddress!, buffer.count)
        if locked { _ = sodium_mlock(buffer.baseAddress!, buffer.count) }
        do {
            try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        } catch {
            sodium_memzero(buffer.baseAddress!, buffer.count)
            if locked { _ = sodium_munlock(buffer.baseAddress!, buffer.count) }
            buffer.deallocate()
            throw error
        }
        self.storage = buffer
        self.count = count
        self.locked = locked
    }

    /// Copies `bytes` into secure memory and zeroes the caller's array afterwards.
    public convenience init(consuming bytes: inout [UInt8], locked: Bool = false) {
        let n = bytes.count
        self.init(count: n, locked: locked) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: src) }
        }
        SecretBytes.zero(&bytes)
    }

    /// Fresh random secret bytes.
    public static func random(count: Int, locked: Bool = false) -> SecretBytes {
        SecretBytes(count: count, locked: locked) { buf in
            if let base = buf.baseAddress { randombytes_buf(base, buf.count) }
        }
    }

    /// Read access to the secret bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Compares with `other` in constant time.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in ConstantTime.equals(a, b) }
        }
    }

    deinit {
        sodium_memzero(storage.baseAddress!, storage.count)
        if locked { _ = sodium_munlock(storage.baseAddress!, storage.count) }
        storage.deallocate()
    }

    /// Zeroes an array in place (the array keeps its length).
    public static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buf in
            if let base = buf.baseAddress { sodium_memzero(base, buf.count) }
        }
    }
}
