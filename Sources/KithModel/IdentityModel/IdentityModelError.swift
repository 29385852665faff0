/// A problem in `identity.yaml`, naming the field and, where known, the line.
public struct IdentityModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Dotted path of the field, like `policy.min_match` or `memories[2].visibility`.
    public let field: String
    /// 1-based line in the file, when the YAML parser reported one.
    public let line: Int?
    /// What is wrong and what is expected.
    public let message: String

    /// Creates an error.
    public init(field: String, line: Int?, message: String) {
        self.field = field
        self.line = line
        self.message = message
    }

    public var description: String {
        let location = line.map { "line \($0): " } ?? ""
        let name = field.isEmpty ? "" : "\(field): "
        return "identity.yaml: \(location)\(name)\(message)"
    }
}
