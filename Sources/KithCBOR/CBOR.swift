/// A CBOR data item restricted to the deterministic subset Kith uses (RFC 8949 §4.2.1):
/// integers, byte and text strings, arrays, maps, booleans and null. No floats, tags or
/// indefinite lengths.
public enum CBOR: Sendable, Hashable {
    /// An unsigned integer (major type 0).
    case unsigned(UInt64)
    /// A negative integer (major type 1) holding `n` for the value `-1 - n`.
    case negative(UInt64)
    /// A byte string (major type 2).
    case bytes([UInt8])
    /// A UTF-8 text string (major type 3).
    case text(String)
    /// An array (major type 4).
    case array([CBOR])
    /// A map (major type 5). Encoding sorts keys by their encoded bytes.
    case map([CBOR: CBOR])
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
}

extension CBOR {
    /// A signed integer as the matching unsigned or negative item.
    public static func int(_ value: Int64) -> CBOR {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-(value + 1)))
    }

    /// A map whose keys are text strings.
    public static func textMap(_ entries: [String: CBOR]) -> CBOR {
        var map: [CBOR: CBOR] = [:]
        map.reserveCapacity(entries.count)
        for (key, value) in entries { map[.text(key)] = value }
        return .map(map)
    }

    /// The value of an unsigned integer item.
    public var unsignedValue: UInt64? {
        if case .unsigned(let v) = self { return v }
        return nil
    }

    /// The value of an integer item when it fits `Int64`.
    public var int64Value: Int64? {
        switch self {
        case .unsigned(let v): return v <= UInt64(Int64.max) ? Int64(v) : nil
        case .negative(let n): return n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: return nil
        }
    }

    /// The contents of a byte string item.
    public var bytesValue: [UInt8]? {
        if case .bytes(let v) = self { return v }
        return nil
    }

    /// The contents of a text item.
    public var textValue: String? {
        if case .text(let v) = self { return v }
        return nil
    }

    /// The elements of an array item.
    public var arrayValue: [CBOR]? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// The entries of a map item.
    public var mapValue: [CBOR: CBOR]? {
        if case .map(let v) = self { return v }
        return nil
    }

    /// The value of a boolean item.
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The value stored under a text key, when this is a map.
    public subscript(key: String) -> CBOR? {
        mapValue?[.text(key)]
    }
}

extension CBOR: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: CBOR...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (CBOR, CBOR)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}
