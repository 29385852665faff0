/// Finds a JSON object with the same key twice. Foundation's parser keeps one of the values
/// silently, so a file could show a reader one text and an auditor another; a kithlog line with a
/// duplicate key is refused instead. Assumes the text already parsed as JSON.
enum JSONDuplicateKeys {
    /// True when some object in `text` (valid JSON) repeats a key (compared after unescaping).
    static func found(in text: [UInt8]) -> Bool {
        var scanner = Scanner(bytes: text)
        return scanner.value()
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 }
        }

        /// Scans one value; true when a duplicate key was found inside it.
        mutating func value() -> Bool {
            skipSpace()
            guard i < bytes.count else { return false }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var keys = Set<[UInt8]>()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return false }
                while i < bytes.count {
                    skipSpace()
                    let key = string()
                    if !keys.insert(key).inserted { return true }
                    skipSpace()
                    if i < bytes.count, bytes[i] == UInt8(ascii: ":") { i += 1 }
                    if value() { return true }
                    skipSpace()
                    guard i < bytes.count else { return false }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    i += 1  // "}"
                    return false
                }
                return false
            case UInt8(ascii: "["):
                i += 1
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return false }
                while i < bytes.count {
                    if value() { return true }
                    skipSpace()
                    guard i < bytes.count else { return false }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    i += 1  // "]"
                    return false
                }
                return false
            case UInt8(ascii: "\""):
                _ = string()
                return false
            default:
                // A number, true, false or null.
                while i < bytes.count, !",]} \t\n\r".utf8.contains(bytes[i]) { i += 1 }
                return false
            }
        }

        /// Reads a string at `i` (which is at its opening quote) and returns it unescaped enough
        /// to compare keys: escapes are decoded for `\"`, `\\`, `\/` and `\uXXXX`.
        mutating func string() -> [UInt8] {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return [] }
            i += 1
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count {
                    let next = bytes[i + 1]
                    if next == UInt8(ascii: "u"), i + 5 < bytes.count,
                       let scalar = UInt32(String(decoding: bytes[(i + 2)...(i + 5)], as: UTF8.self), radix: 16) {
                        out += Array(String(UnicodeScalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                        i += 6
                        continue
                    }
                    let decoded: UInt8 = switch next {
                    case UInt8(ascii: "n"): 0x0a
                    case UInt8(ascii: "t"): 0x09
                    case UInt8(ascii: "r"): 0x0d
                    case UInt8(ascii: "b"): 0x08
                    case UInt8(ascii: "f"): 0x0c
                    default: next
                    }
                    out.append(decoded)
                    i += 2
                    continue
                }
                out.append(bytes[i])
                i += 1
            }
            i += 1  // closing quote
            return out
        }
    }
}
