import Foundation
import KithCBOR
import KithTestSupport
import Testing

/// A JSON value from the vector file, decoded without Foundation's number/bool ambiguity.
private indirect enum JSONValue: Decodable {
    case bool(Bool), int(Int64), uint(UInt64), double(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int64.self) { self = .int(v) }
        else if let v = try? c.decode(UInt64.self) { self = .uint(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// The CBOR item this JSON value denotes, or nil when it has none in Kith's subset.
    var cbor: CBOR? {
        switch self {
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .unsigned(u)
        case .double: return nil
        case .string(let s): return .text(s)
        case .null: return .null
        case .array(let items):
            var out: [CBOR] = []
            for item in items { guard let c = item.cbor else { return nil }; out.append(c) }
            return .array(out)
        case .object(let entries):
            var out: [CBOR: CBOR] = [:]
            for (k, v) in entries { guard let c = v.cbor else { return nil }; out[.text(k)] = c }
            return .map(out)
        }
    }
}

private struct Vector: Decodable {
    let hex: String
    let roundtrip: Bool
    let decoded: JSONValue?
    let diagnostic: String?
}

@Suite("RFC 8949 Appendix A")
struct RFC8949VectorTests {
    private static func vectors() throws -> [Vector] {
        let data = try Data(contentsOf: Fixtures.publicVectors.appendingPathComponent("cbor-rfc8949-appendix_a.json"))
        return try JSONDecoder().decode([Vector].self, from: data)
    }

    /// Items outside Kith's deterministic subset: floats, tags (bignums too), simple values
    /// other than false/true/null, and every indefinite-length encoding.
    private static func isOutsideSubset(_ v: Vector) -> Bool {
        let first = [UInt8](testHex: v.hex)[0]
        let major = first >> 5
        if !v.roundtrip { return true }
        if major == 6 { return true }
        if major == 7 { return ![0xf4, 0xf5, 0xf6].contains(first) }
        return false
    }

    @Test func everyApplicableVectorDecodesAndReencodesByteForByte() throws {
        var accepted = 0
        for vector in try Self.vectors() where !Self.isOutsideSubset(vector) {
            let bytes = [UInt8](testHex: vector.hex)
            let item = try CBOR.decode(bytes)
            #expect(item.encoded() == bytes, "\(vector.hex)")
            if let expected = vector.decoded?.cbor {
                #expect(item == expected, "\(vector.hex)")
            }
            accepted += 1
        }
        #expect(accepted == 37)
        // Spot checks of values that JSON cannot carry exactly.
        #expect(try CBOR.decode([UInt8](testHex: "3bffffffffffffffff")) == .negative(UInt64.max))
        #expect(try CBOR.decode([UInt8](testHex: "a201020304")) == .map([.unsigned(1): .unsigned(2), .unsigned(3): .unsigned(4)]))
        #expect(try CBOR.decode([UInt8](testHex: "4401020304")) == .bytes([1, 2, 3, 4]))
    }

    @Test func everyVectorOutsideTheSubsetIsRejected() throws {
        var rejected = 0
        for vector in try Self.vectors() where Self.isOutsideSubset(vector) {
            #expect(throws: CBORDecodingError.self, "\(vector.hex)") { try CBOR.decode([UInt8](testHex: vector.hex)) }
            rejected += 1
        }
        #expect(rejected == 45)
    }
}
