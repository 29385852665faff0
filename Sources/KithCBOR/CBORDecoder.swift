/// Bounds the decoder enforces before it allocates anything.
public struct CBORLimits: Sendable, Hashable {
    /// Largest accepted input, in bytes.
    public var maxInputSize: Int
    /// Deepest accepted nesting of arrays and maps (the top-level item is depth 1). At most 32.
    public var maxDepth: Int
    /// Largest accepted byte or text string, in bytes.
    public var maxStringLength: Int
    /// Largest accepted number of elements in one array or entries in one map.
    public var maxCollectionCount: Int

    /// Creates limits; `maxDepth` is capped at 32.
    public init(maxInputSize: Int = 1 << 20, maxDepth: Int = 32, maxStringLength: Int = 1 << 20, maxCollectionCount: Int = 1 << 16) {
        self.maxInputSize = maxInputSize
        self.maxDepth = min(maxDepth, CBORLimits.absoluteMaxDepth)
        self.maxStringLength = maxStringLength
        self.maxCollectionCount = maxCollectionCount
    }

    /// Nesting beyond this is always refused.
    public static let absoluteMaxDepth = 32
    /// 1 MiB input, depth 32.
    public static let `default` = CBORLimits()
}

extension CBOR {
    /// Decodes exactly one deterministic CBOR item from `bytes`, rejecting anything outside
    /// Kith's subset or not in deterministic form (see ``CBORDecodingError/Reason``).
    public static func decode(_ bytes: [UInt8], limits: CBORLimits = .default) throws(CBORDecodingError) -> CBOR {
        guard bytes.count <= limits.maxInputSize else {
            throw CBORDecodingError(.inputTooLarge(limit: limits.maxInputSize), at: 0)
        }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(CBORDecodingError) -> CBOR in
            var reader = Reader(bytes: buffer, limits: limits)
            let item = try reader.readItem(depth: 1)
            guard reader.position == buffer.count else {
                throw CBORDecodingError(.trailingBytes, at: reader.position)
            }
            return item
        }
    }
}

extension CBOR {
    /// Decodes exactly one deterministic CBOR map whose keys are all text, straight into a
    /// dictionary by key (the shape of every signed payload), with the same checks as
    /// ``decode(_:limits:)``.
    public static func decodeTextKeyedMap(_ bytes: [UInt8], limits: CBORLimits = .default) throws(CBORDecodingError) -> [String: CBOR] {
        guard bytes.count <= limits.maxInputSize else {
            throw CBORDecodingError(.inputTooLarge(limit: limits.maxInputSize), at: 0)
        }
        return try bytes.withUnsafeBufferPointer { (buffer) throws(CBORDecodingError) -> [String: CBOR] in
            var reader = Reader(bytes: buffer, limits: limits)
            let map = try reader.readTextKeyedMap()
            guard reader.position == buffer.count else {
                throw CBORDecodingError(.trailingBytes, at: reader.position)
            }
            return map
        }
    }
}

/// A cursor over the input; every length is checked against what remains before use.
private struct Reader {
    // Valid only inside the `withUnsafeBufferPointer` call that created the reader.
    let bytes: UnsafeBufferPointer<UInt8>
    let limits: CBORLimits
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>, limits: CBORLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    var remaining: Int { bytes.count - position }

    mutating func readByte() throws(CBORDecodingError) -> UInt8 {
        guard position < bytes.count else { throw CBORDecodingError(.truncated, at: position) }
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads the argument that follows an initial byte with additional information `info`.
    mutating func readArgument(info: UInt8, start: Int) throws(CBORDecodingError) -> UInt64 {
        let width: Int
        switch info {
        case 0..<24: return UInt64(info)
        case 24: width = 1
        case 25: width = 2
        case 26: width = 4
        case 27: width = 8
        case 28...30: throw CBORDecodingError(.reservedAdditionalInfo, at: start)
        default: throw CBORDecodingError(.indefiniteLength, at: start)
        }
        guard remaining >= width else { throw CBORDecodingError(.truncated, at: position) }
        var value: UInt64 = 0
        for _ in 0..<width { value = value << 8 | UInt64(bytes[position]); position += 1 }
        let shortestMinimum: UInt64 = switch width {
        case 1: 24
        case 2: 0x100
        case 4: 0x1_0000
        default: 0x1_0000_0000
        }
        guard value >= shortestMinimum else { throw CBORDecodingError(.nonShortestArgument, at: start) }
        return value
    }

    /// Converts a length argument to `Int`, checked against the remaining input and `limit`.
    func checkedLength(_ argument: UInt64, unitSize: Int, limit: Int, what: String, start: Int) throws(CBORDecodingError) -> Int {
        guard argument <= UInt64(limit) else {
            throw CBORDecodingError(.limitExceeded("\(what) of \(argument) exceeds \(limit)"), at: start)
        }
        let length = Int(argument)
        // Each element needs at least `unitSize` bytes, so this bounds any allocation by the input.
        let (needed, overflow) = length.multipliedReportingOverflow(by: unitSize)
        guard !overflow, needed <= remaining else { throw CBORDecodingError(.truncated, at: start) }
        return length
    }

    /// A top-level map with text keys only.
    mutating func readTextKeyedMap() throws(CBORDecodingError) -> [String: CBOR] {
        let start = position
        let initial = try readByte()
        guard initial >> 5 == 5 else { throw CBORDecodingError(.limitExceeded("expected a map"), at: start) }
        let arg = try readArgument(info: initial & 0x1f, start: start)
        let n = try checkedLength(arg, unitSize: 2, limit: limits.maxCollectionCount, what: "map size", start: start)
        var map: [String: CBOR] = [:]
        map.reserveCapacity(n)
        var previousKey: Range<Int>? = nil
        for _ in 0..<n {
            let keyStart = position
            guard case .text(let key) = try readItem(depth: 2) else {
                throw CBORDecodingError(.limitExceeded("map keys must be text"), at: keyStart)
            }
            let keyRange = keyStart..<position
            if let prev = previousKey {
                let a = bytes[prev], b = bytes[keyRange]
                if a.elementsEqual(b) { throw CBORDecodingError(.duplicateMapKey, at: keyStart) }
                if !a.lexicographicallyPrecedes(b) { throw CBORDecodingError(.unsortedMapKeys, at: keyStart) }
            }
            previousKey = keyRange
            let value = try readItem(depth: 2)
            guard map.updateValue(value, forKey: key) == nil else { throw CBORDecodingError(.duplicateMapKey, at: keyStart) }
        }
        return map
    }

    mutating func readItem(depth: Int) throws(CBORDecodingError) -> CBOR {
        let start = position
        let initial = try readByte()
        let major = initial >> 5
        let info = initial & 0x1f
        switch major {
        case 0:
            return .unsigned(try readArgument(info: info, start: start))
        case 1:
            return .negative(try readArgument(info: info, start: start))
        case 2:
            let arg = try readArgument(info: info, start: start)
            let n = try checkedLength(arg, unitSize: 1, limit: limits.maxStringLength, what: "byte string length", start: start)
            defer { position += n }
            return .bytes(Array(bytes[position..<position + n]))
        case 3:
            let arg = try readArgument(info: info, start: start)
            let n = try checkedLength(arg, unitSize: 1, limit: limits.maxStringLength, what: "text string length", start: start)
            guard let text = String(validating: bytes[position..<position + n], as: UTF8.self) else {
                throw CBORDecodingError(.invalidUTF8, at: start)
            }
            position += n
            return .text(text)
        case 4:
            let arg = try readArgument(info: info, start: start)
            let n = try checkedLength(arg, unitSize: 1, limit: limits.maxCollectionCount, what: "array count", start: start)
            guard depth < limits.maxDepth || n == 0 else { throw CBORDecodingError(.tooDeep(limit: limits.maxDepth), at: start) }
            var items: [CBOR] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try readItem(depth: depth + 1)) }
            return .array(items)
        case 5:
            let arg = try readArgument(info: info, start: start)
            let n = try checkedLength(arg, unitSize: 2, limit: limits.maxCollectionCount, what: "map size", start: start)
            guard depth < limits.maxDepth || n == 0 else { throw CBORDecodingError(.tooDeep(limit: limits.maxDepth), at: start) }
            var map: [CBOR: CBOR] = [:]
            map.reserveCapacity(n)
            var previousKey: Range<Int>? = nil
            for _ in 0..<n {
                let keyStart = position
                let key = try readItem(depth: depth + 1)
                let keyRange = keyStart..<position
                if let prev = previousKey {
                    let a = bytes[prev], b = bytes[keyRange]
                    if a.elementsEqual(b) { throw CBORDecodingError(.duplicateMapKey, at: keyStart) }
                    if !a.lexicographicallyPrecedes(b) { throw CBORDecodingError(.unsortedMapKeys, at: keyStart) }
                }
                previousKey = keyRange
                let value = try readItem(depth: depth + 1)
                // Distinct bytes can still be equal Swift values (canonically equivalent text).
                guard map.updateValue(value, forKey: key) == nil else {
                    throw CBORDecodingError(.duplicateMapKey, at: keyStart)
                }
            }
            return .map(map)
        case 6:
            throw CBORDecodingError(.tagNotAllowed, at: start)
        default:
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 25, 26, 27: throw CBORDecodingError(.floatNotAllowed, at: start)
            case 28...30: throw CBORDecodingError(.reservedAdditionalInfo, at: start)
            case 31: throw CBORDecodingError(.indefiniteLength, at: start)
            default: throw CBORDecodingError(.simpleValueNotAllowed, at: start)
            }
        }
    }
}
