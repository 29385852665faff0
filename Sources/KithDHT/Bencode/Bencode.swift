/// A bencoded value (BEP 3): the encoding of every Mainline DHT message and of BEP 44 values.
///
/// Dictionaries keep raw byte-string keys; encoding sorts them bytewise, so ``encoded()`` is the
/// canonical form and ``Bencode/decode(_:limits:)`` accepts nothing else.
public enum Bencode: Sendable, Hashable {
    case integer(Int64)
    case bytes([UInt8])
    case list([Bencode])
    case dictionary([[UInt8]: Bencode])

    /// A byte string from UTF-8 text.
    public static func string(_ text: String) -> Bencode { .bytes(Array(text.utf8)) }

    /// A dictionary from text keys.
    public static func dict(_ entries: [String: Bencode]) -> Bencode {
        var result: [[UInt8]: Bencode] = [:]
        for (key, value) in entries { result[Array(key.utf8)] = value }
        return .dictionary(result)
    }

    /// The value under a text key, when this is a dictionary.
    public subscript(key: String) -> Bencode? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries[Array(key.utf8)]
    }

    /// The byte string, when this is one.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The integer, when this is one.
    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The canonical encoding.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the canonical encoding to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .integer(let value):
            out.append(UInt8(ascii: "i"))
            out.append(contentsOf: String(value).utf8)
            out.append(UInt8(ascii: "e"))
        case .bytes(let value):
            Self.appendBytes(value, to: &out)
        case .list(let items):
            out.append(UInt8(ascii: "l"))
            for item in items { item.encode(into: &out) }
            out.append(UInt8(ascii: "e"))
        case .dictionary(let entries):
            out.append(UInt8(ascii: "d"))
            for key in entries.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                Self.appendBytes(key, to: &out)
                entries[key]!.encode(into: &out)
            }
            out.append(UInt8(ascii: "e"))
        }
    }

    static func appendBytes(_ value: [UInt8], to out: inout [UInt8]) {
        out.append(contentsOf: String(value.count).utf8)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: value)
    }
}

/// Why bytes are not canonical bencode within the limits.
public enum BencodeError: Error, Equatable, Sendable {
    case tooLarge(Int)
    case tooDeep
    case tooManyItems
    case truncated
    case unexpectedByte(UInt8, at: Int)
    case malformedInteger(at: Int)
    case malformedLength(at: Int)
    case keysNotSorted(at: Int)
    case trailingBytes(at: Int)
}

extension Bencode {
    /// Bounds on what ``decode(_:limits:)`` accepts.
    public struct Limits: Sendable {
        /// Largest input, in bytes.
        public var maxBytes: Int
        /// Deepest nesting of lists and dictionaries.
        public var maxDepth: Int
        /// Most values in the whole input.
        public var maxItems: Int

        public init(maxBytes: Int, maxDepth: Int, maxItems: Int) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxItems = maxItems
        }

        /// Enough for any KRPC datagram (a UDP payload of at most 1,500 bytes).
        public static let datagram = Limits(maxBytes: 1_500, maxDepth: 8, maxItems: 512)
    }

    /// Decodes exactly one canonical value: sorted unique keys, no leading zeros, no `-0`,
    /// integers within Int64, nothing after the value.
    public static func decode(_ bytes: [UInt8], limits: Limits = .datagram) throws(BencodeError) -> Bencode {
        guard bytes.count <= limits.maxBytes else { throw .tooLarge(bytes.count) }
        var parser = Parser(bytes: bytes, limits: limits)
        let value = try parser.value(depth: 0)
        guard parser.position == bytes.count else { throw .trailingBytes(at: parser.position) }
        return value
    }

    /// Decodes the value starting at `start` and returns it with the index after it; used where
    /// the raw bytes of a nested value matter (BEP 44 signatures cover `v` as sent).
    static func decodePrefix(_ bytes: [UInt8], from start: Int, limits: Limits) throws(BencodeError) -> (Bencode, Int) {
        var parser = Parser(bytes: bytes, limits: limits)
        parser.position = start
        let value = try parser.value(depth: 0)
        return (value, parser.position)
    }

    private struct Parser {
        let bytes: [UInt8]
        let limits: Limits
        var position = 0
        var items = 0

        init(bytes: [UInt8], limits: Limits) {
            self.bytes = bytes
            self.limits = limits
        }

        mutating func value(depth: Int) throws(BencodeError) -> Bencode {
            guard depth <= limits.maxDepth else { throw .tooDeep }
            items += 1
            guard items <= limits.maxItems else { throw .tooManyItems }
            guard position < bytes.count else { throw .truncated }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "i"):
                position += 1
                return .integer(try integer(terminator: UInt8(ascii: "e")))
            case UInt8(ascii: "l"):
                position += 1
                var list: [Bencode] = []
                while true {
                    guard position < bytes.count else { throw .truncated }
                    if bytes[position] == UInt8(ascii: "e") { position += 1; return .list(list) }
                    list.append(try value(depth: depth + 1))
                }
            case UInt8(ascii: "d"):
                position += 1
                var entries: [[UInt8]: Bencode] = [:]
                var previous: [UInt8]?
                while true {
                    guard position < bytes.count else { throw .truncated }
                    if bytes[position] == UInt8(ascii: "e") { position += 1; return .dictionary(entries) }
                    let keyStart = position
                    guard bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") else {
                        throw .unexpectedByte(bytes[position], at: position)
                    }
                    let key = try string()
                    if let previous, !previous.lexicographicallyPrecedes(key) { throw .keysNotSorted(at: keyStart) }
                    previous = key
                    entries[key] = try value(depth: depth + 1)
                }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .bytes(try string())
            default:
                throw .unexpectedByte(byte, at: position)
            }
        }

        /// Digits up to `terminator`, canonical: no leading zero, no `-0`, within Int64.
        mutating func integer(terminator: UInt8) throws(BencodeError) -> Int64 {
            let start = position
            var negative = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { negative = true; position += 1 }
            let digitsStart = position
            var magnitude: UInt64 = 0
            while position < bytes.count, bytes[position] != terminator {
                let byte = bytes[position]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), position - digitsStart < 19 else {
                    throw terminator == UInt8(ascii: ":") ? .malformedLength(at: start) : .malformedInteger(at: start)
                }
                magnitude = magnitude * 10 + UInt64(byte - UInt8(ascii: "0"))
                position += 1
            }
            guard position < bytes.count else { throw .truncated }
            let digits = position - digitsStart
            guard digits > 0,
                  !(digits > 1 && bytes[digitsStart] == UInt8(ascii: "0")),
                  !(negative && magnitude == 0),
                  magnitude <= UInt64(Int64.max) + (negative ? 1 : 0)
            else { throw terminator == UInt8(ascii: ":") ? .malformedLength(at: start) : .malformedInteger(at: start) }
            position += 1
            return negative ? Int64(truncatingIfNeeded: 0 &- magnitude) : Int64(magnitude)
        }

        mutating func string() throws(BencodeError) -> [UInt8] {
            let start = position
            let length = try integer(terminator: UInt8(ascii: ":"))
            guard length >= 0 else { throw .malformedLength(at: start) }
            guard length <= Int64(bytes.count - position) else { throw .truncated }
            let end = position + Int(length)
            defer { position = end }
            return Array(bytes[position..<end])
        }
    }
}
