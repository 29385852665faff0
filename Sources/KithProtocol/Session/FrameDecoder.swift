/// Splits a byte stream into frames of 2-byte big-endian length ‖ body (1…65535 bytes). It
/// never buffers more than one incomplete frame.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []

    /// Largest frame body.
    public static let maxBody = 65_535

    /// An empty decoder.
    public init() {}

    /// Bytes received but not yet returned as a frame.
    public var bufferedCount: Int { buffer.count }

    /// Appends received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame body, nil when more bytes are needed; throws on a zero length.
    public mutating func next() throws(SessionError) -> [UInt8]? {
        guard buffer.count >= 2 else { return nil }
        let length = Int(buffer[0]) << 8 | Int(buffer[1])
        guard length > 0 else { throw .protocolViolation("empty frame") }
        guard buffer.count >= 2 + length else { return nil }
        let body = Array(buffer[2..<2 + length])
        buffer.removeFirst(2 + length)
        return body
    }

    /// Frames `body` (1…65535 bytes) for the wire.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        precondition(!body.isEmpty && body.count <= maxBody, "frame body must be 1…65535 bytes")
        return [UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    }
}
