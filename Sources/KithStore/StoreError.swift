/// A storage failure, with what happened and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A protocol number as SQLite's signed 64-bit integer; one beyond it (a peer can sign any
/// `uint`) is refused, never trapped on.
func sqliteInteger(_ value: UInt64, _ what: String) throws(StoreError) -> Int64 {
    guard let v = Int64(exactly: value) else { throw StoreError("\(what) \(value) is beyond what the store keeps (2^63 - 1): refused") }
    return v
}
