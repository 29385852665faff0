/// The part of DNS messages (RFC 1035) a pkarr record needs: a response whose answer section
/// holds resource records; TXT data read and written, other types carried as raw bytes.
public struct DNSMessage: Sendable, Equatable {
    /// One resource record.
    public struct Record: Sendable, Equatable {
        /// The owner name as labels, e.g. `["_kith", "<z-base-32 key>"]`.
        public var name: [String]
        public var type: UInt16
        public var ttl: UInt32
        /// Raw RDATA.
        public var data: [UInt8]

        public init(name: [String], type: UInt16, ttl: UInt32, data: [UInt8]) {
            self.name = name
            self.type = type
            self.ttl = ttl
            self.data = data
        }

        /// A TXT record holding `strings` (each at most 255 bytes).
        public static func txt(name: [String], ttl: UInt32, strings: [String]) -> Record {
            var data: [UInt8] = []
            for string in strings {
                let bytes = Array(string.utf8.prefix(255))
                data.append(UInt8(bytes.count))
                data += bytes
            }
            return Record(name: name, type: DNSMessage.txt, ttl: ttl, data: data)
        }

        /// The character-strings of a TXT record; nil when the data is not a sequence of them.
        public var txtStrings: [String]? {
            guard type == DNSMessage.txt else { return nil }
            var strings: [String] = []
            var index = 0
            while index < data.count {
                let length = Int(data[index])
                guard index + 1 + length <= data.count else { return nil }
                strings.append(String(decoding: data[index + 1..<index + 1 + length], as: UTF8.self))
                index += 1 + length
            }
            return strings
        }
    }

    /// RR type TXT.
    public static let txt: UInt16 = 16
    /// Class IN.
    public static let classIN: UInt16 = 1

    public var answers: [Record]

    public init(answers: [Record]) { self.answers = answers }

    /// Why bytes are not a DNS message this decoder accepts.
    public enum DecodingError: Error, Equatable, Sendable {
        case truncated
        case tooManyRecords
        case badName
        case notAResponse
    }

    /// Encodes a response (id 0, QR and AA set, no question) whose answers reuse the first
    /// occurrence of each name suffix through compression pointers (RFC 1035 §4.1.4).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x84, 0x00, 0, 0]
        out += [UInt8(answers.count >> 8), UInt8(answers.count & 0xff), 0, 0, 0, 0]
        var suffixes: [[String]: Int] = [:]
        for record in answers {
            writeName(record.name, into: &out, suffixes: &suffixes)
            out += [UInt8(record.type >> 8), UInt8(record.type & 0xff), 0, UInt8(Self.classIN)]
            out += [UInt8(record.ttl >> 24), UInt8(record.ttl >> 16 & 0xff), UInt8(record.ttl >> 8 & 0xff), UInt8(record.ttl & 0xff)]
            out += [UInt8(record.data.count >> 8), UInt8(record.data.count & 0xff)]
            out += record.data
        }
        return out
    }

    private func writeName(_ labels: [String], into out: inout [UInt8], suffixes: inout [[String]: Int]) {
        for start in labels.indices {
            let suffix = Array(labels[start...]).map { $0.lowercased() }
            if let offset = suffixes[suffix] {
                out += [0xC0 | UInt8(offset >> 8), UInt8(offset & 0xff)]
                return
            }
            if out.count < 0x3FFF { suffixes[suffix] = out.count }
            let bytes = Array(labels[start].utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
    }

    /// Decodes a response: bounded (at most 64 records of each section, names of at most 255
    /// bytes, compression pointers only backwards), questions skipped, answers kept.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> DNSMessage {
        guard bytes.count >= 12 else { throw .truncated }
        guard bytes[2] & 0x80 != 0 else { throw .notAResponse }
        func count(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        let questions = count(4), answerCount = count(6), authority = count(8), additional = count(10)
        guard questions <= 64, answerCount <= 64, authority <= 64, additional <= 64 else { throw .tooManyRecords }
        var index = 12
        for _ in 0..<questions {
            _ = try readName(bytes, at: &index)
            guard index + 4 <= bytes.count else { throw .truncated }
            index += 4
        }
        var answers: [Record] = []
        for _ in 0..<answerCount {
            let name = try readName(bytes, at: &index)
            guard index + 10 <= bytes.count else { throw .truncated }
            let type = UInt16(count(index))
            let ttl = UInt32(bytes[index + 4]) << 24 | UInt32(bytes[index + 5]) << 16 | UInt32(bytes[index + 6]) << 8 | UInt32(bytes[index + 7])
            let length = count(index + 8)
            index += 10
            guard index + length <= bytes.count else { throw .truncated }
            answers.append(Record(name: name, type: type, ttl: ttl, data: Array(bytes[index..<index + length])))
            index += length
        }
        return DNSMessage(answers: answers)
    }

    private static func readName(_ bytes: [UInt8], at index: inout Int) throws(DecodingError) -> [String] {
        var labels: [String] = []
        var position = index
        var jumped = false
        var total = 0
        var jumps = 0
        while true {
            guard position < bytes.count else { throw .truncated }
            let length = Int(bytes[position])
            if length & 0xC0 == 0xC0 {
                guard position + 1 < bytes.count else { throw .truncated }
                let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < position, jumps < 32 else { throw .badName }
                jumps += 1
                if !jumped { index = position + 2; jumped = true }
                position = target
                continue
            }
            guard length & 0xC0 == 0 else { throw .badName }
            position += 1
            if length == 0 { break }
            guard position + length <= bytes.count else { throw .truncated }
            total += length + 1
            guard total <= 255 else { throw .badName }
            labels.append(String(decoding: bytes[position..<position + length], as: UTF8.self))
            position += length
        }
        if !jumped { index = position }
        return labels
    }
}
