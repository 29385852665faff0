/// A transport address as written in manifests: `tcp://host:port` or `udp://host:port`, where
/// host is a DNS name, an IPv4 address or a bracketed IPv6 address.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// `tcp` or `udp`.
    public var scheme: String
    /// Host name or address (IPv6 without brackets).
    public var host: String
    /// Port, 1–65535.
    public var port: Int

    /// Creates an endpoint.
    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// Parses `scheme://host:port`; nil when malformed.
    public init?(_ text: String) {
        guard text.utf8.count <= Manifest.Limits.endpoint else { return nil }
        let parts = text.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "tcp" || parts[0] == "udp",
              let (host, port) = Endpoint.splitHostPort(String(parts[1]))
        else { return nil }
        self.init(scheme: String(parts[0]), host: host, port: port)
    }

    /// Splits `host:port` or `[v6]:port`; nil when malformed.
    public static func splitHostPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
            guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else { return nil }
        }
        return (host, port)
    }

    /// True when `text` is an endpoint in canonical form (it parses and prints back unchanged).
    public static func isValid(_ text: String) -> Bool { Endpoint(text)?.description == text }

    public var description: String {
        host.contains(":") ? "\(scheme)://[\(host)]:\(port)" : "\(scheme)://\(host):\(port)"
    }
}
