import KithCrypto

/// A network id: BLAKE2b-256(UTF-8 `kith/v1/network/` ‖ name). Nodes of different networks never
/// exchange anything.
public struct NetworkID: Sendable, Hashable, CustomStringConvertible {
    /// The 32 id bytes.
    public let bytes: [UInt8]

    /// The name of the default network.
    public static let defaultName = "main"
    /// The default network, `main`.
    public static let main = NetworkID(name: defaultName)

    /// The id of the network called `name`.
    public init(name: String) {
        bytes = BLAKE2b.hash(Array("kith/v1/network/\(name)".utf8))
    }

    /// Wraps 32 raw id bytes.
    public init(bytes: [UInt8]) throws(SignedObjectError) {
        guard bytes.count == 32 else { throw .malformed("a network id is 32 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    /// Lowercase hex.
    public var description: String { Hex.encode(bytes) }

    /// True when `name` is usable as a network name: 1–64 characters of letters, digits, `-`, `_`, `.`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e
        }
    }
}
