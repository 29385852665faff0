/// Splits a byte stream into frames of 2-byte big-endian length ‖ body (1…65535 bytes). It
/// never buffers more than one incomplete frame.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    /// Start of the unread bytes in `buffer` (consumed bytes are dropped lazily, not per frame).
    private var start = 0

    /// Largest frame body.
    public static let maxBody = 65_535

    /// An empty decoder.
    public init() {}

    /// Bytes received but not yet returned as a frame.
    public var bufferedCount: Int { buffer.count - start }

    /// Appends received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame body, nil when more bytes are needed; throws on a zero length.
    public mutating func next() throws(SessionError) -> [UInt8]? {
        guard let range = try nextRange() else { return nil }
        return Array(buffer[range])
    }

    /// Consumes the next complete frame and returns where its body lies, for
    /// ``withBody(_:_:)``; valid until the next ``append(_:)``.
    public mutating func nextRange() throws(SessionError) -> Range<Int>? {
        guard buffer.count - start >= 2 else { return nil }
        let length = Int(buffer[start]) << 8 | Int(buffer[start + 1])
        guard length > 0 else { throw .protocolViolation("empty frame") }
        guard buffer.count - start >= 2 + length else { return nil }
        let range = (start + 2)..<(start + 2 + length)
        start = range.upperBound
        return range
    }

    /// Reads a frame body returned by ``nextRange()`` in place.
    public func withBody<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws(SessionError) -> R) throws(SessionError) -> R {
        try buffer.withUnsafeBytes { all in
            Result { () throws(SessionError) in try body(UnsafeRawBufferPointer(rebasing: all[range])) }
        }.get()
    }

    /// Frames `body` (1…65535 bytes) for the wire.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        precondition(!body.isEmpty && body.count <= maxBody, "frame body must be 1…65535 bytes")
        var out: [UInt8] = []
        out.reserveCapacity(2 + body.count)
        out.append(UInt8(body.count >> 8))
        out.append(UInt8(body.count & 0xff))
        out.append(contentsOf: body)
        return out
    }
}
