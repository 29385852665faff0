/// A node-level failure with what happened and what to do next.
public struct NodeError: Error, Sendable, CustomStringConvertible {
    /// What happened and what to do.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
