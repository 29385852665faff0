/// A storage failure, with what happened and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
