extension CBOR {
    /// The deterministic encoding (RFC 8949 §4.2.1): shortest arguments, definite lengths, map
    /// keys sorted by the bytewise order of their encodings.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    /// Appends the deterministic encoding to `out`.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .unsigned(let v):
            Self.appendHead(major: 0, argument: v, to: &out)
        case .negative(let n):
            Self.appendHead(major: 1, argument: n, to: &out)
        case .bytes(let b):
            Self.appendHead(major: 2, argument: UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        case .text(let s):
            let utf8 = s.utf8
            Self.appendHead(major: 3, argument: UInt64(utf8.count), to: &out)
            out.append(contentsOf: utf8)
        case .array(let items):
            Self.appendHead(major: 4, argument: UInt64(items.count), to: &out)
            for item in items { item.encode(into: &out) }
        case .map(let entries):
            Self.appendHead(major: 5, argument: UInt64(entries.count), to: &out)
            let encodedKeys = entries.map { (key: $0.key.encoded(), value: $0.value) }
            for entry in encodedKeys.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                out.append(contentsOf: entry.key)
                entry.value.encode(into: &out)
            }
        case .bool(let b):
            out.append(b ? 0xf5 : 0xf4)
        case .null:
            out.append(0xf6)
        }
    }

    /// Appends a head (major type and argument) in its shortest form.
    static func appendHead(major: UInt8, argument: UInt64, to out: inout [UInt8]) {
        let m = major << 5
        switch argument {
        case 0..<24:
            out.append(m | UInt8(argument))
        case 24...0xff:
            out.append(m | 24)
            out.append(UInt8(argument))
        case 0x100...0xffff:
            out.append(m | 25)
            out.append(UInt8(argument >> 8))
            out.append(UInt8(truncatingIfNeeded: argument))
        case 0x1_0000...0xffff_ffff:
            out.append(m | 26)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: argument >> UInt64(shift))) }
        default:
            out.append(m | 27)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: argument >> UInt64(shift))) }
        }
    }
}

extension CBOR {
    /// The length of ``encoded()`` without building it.
    public var encodedCount: Int {
        switch self {
        case .unsigned(let v), .negative(let v): return Self.headCount(v)
        case .bytes(let b): return Self.headCount(UInt64(b.count)) + b.count
        case .text(let s): return Self.headCount(UInt64(s.utf8.count)) + s.utf8.count
        case .array(let items): return items.reduce(Self.headCount(UInt64(items.count))) { $0 + $1.encodedCount }
        case .map(let entries):
            return entries.reduce(Self.headCount(UInt64(entries.count))) { $0 + $1.key.encodedCount + $1.value.encodedCount }
        case .bool, .null: return 1
        }
    }

    static func headCount(_ argument: UInt64) -> Int {
        switch argument {
        case 0..<24: return 1
        case 24...0xff: return 2
        case 0x100...0xffff: return 3
        case 0x1_0000...0xffff_ffff: return 5
        default: return 9
        }
    }
}
