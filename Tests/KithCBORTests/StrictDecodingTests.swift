import KithCBOR
import KithTestSupport
import Testing

@Suite("Strict decoding")
struct StrictDecodingTests {
    private func reason(_ hex: String, limits: CBORLimits = .default) -> CBORDecodingError.Reason? {
        do {
            _ = try CBOR.decode([UInt8](testHex: hex), limits: limits)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test(arguments: [
        ("1817", "integer 23 in one extra byte"),
        ("190017", "integer in two bytes"),
        ("1a000000ff", "integer in four bytes"),
        ("1b00000000ffffffff", "integer in eight bytes"),
        ("3800", "negative in one extra byte"),
        ("5801ff", "byte-string length in one extra byte"),
        ("780161", "text length in one extra byte"),
        ("980101", "array count in one extra byte"),
        ("b8010102", "map size in one extra byte"),
    ])
    func nonShortestArgumentsAreRejected(hex: String, what: String) {
        #expect(reason(hex) == .nonShortestArgument, "\(what)")
    }

    @Test func mapKeysMustBeSortedAndUnique() {
        // {"b": 1, "a": 2}
        #expect(reason("a2616201616102") == .unsortedMapKeys)
        // {"a": 1, "a": 2}
        #expect(reason("a2616101616102") == .duplicateMapKey)
        // Shorter encodings sort first: {10: 0, "a": 0} is sorted, {"a": 0, 10: 0} is not.
        #expect(reason("a20a00616100") == nil)
        #expect(reason("a26161000a00") == .unsortedMapKeys)
        // Two canonically equivalent spellings of "é" are different bytes but equal text.
        #expect(reason("a262c3a9006365cc8100") == .duplicateMapKey)
    }

    @Test(arguments: [
        ("5f42010243030405ff", CBORDecodingError.Reason.indefiniteLength),
        ("9fff", .indefiniteLength),
        ("bfff", .indefiniteLength),
        ("ff", .indefiniteLength),
        ("f93c00", .floatNotAllowed),
        ("fa47c35000", .floatNotAllowed),
        ("fb3ff199999999999a", .floatNotAllowed),
        ("c11a514b67b0", .tagNotAllowed),
        ("f7", .simpleValueNotAllowed),
        ("f820", .simpleValueNotAllowed),
        ("1c", .reservedAdditionalInfo),
        ("62c328", .invalidUTF8),
        ("63eda080", .invalidUTF8),
        ("0000", .trailingBytes),
        ("18", .truncated),
        ("5a00010000", .truncated),
        ("9a00010000", .truncated),
    ])
    func malformedInputIsRejectedWithAPreciseReason(hex: String, expected: CBORDecodingError.Reason) {
        let bytes = hex.count % 2 == 0 ? hex : hex + "0"
        #expect(reason(bytes) == expected, "\(hex)")
    }

    @Test func hugeDeclaredLengthsDoNotAllocate() {
        // An array claiming 2^32 elements, a byte string claiming 2^63 bytes: refused up front.
        #expect(reason("9b0000000100000000") == .limitExceeded("array count of 4294967296 exceeds 65536"))
        let generous = CBORLimits(maxStringLength: .max, maxCollectionCount: .max)
        #expect(reason("9b0000000100000000", limits: generous) == .truncated)
        #expect(reason("bb4000000000000000", limits: generous) == .truncated)
        #expect(reason("5b7fffffffffffffff", limits: generous) == .truncated)
        #expect(reason("5b8000000000000000") == .limitExceeded("byte string length of 9223372036854775808 exceeds 1048576"))
        #expect(reason("5a00100000") == .truncated)
    }

    @Test func callerLimitsAreEnforced() {
        let small = CBORLimits(maxInputSize: 4)
        #expect(reason("4401020304", limits: small) == .inputTooLarge(limit: 4))
        let shortStrings = CBORLimits(maxStringLength: 2)
        #expect(reason("43010203", limits: shortStrings) == .limitExceeded("byte string length of 3 exceeds 2"))
        let fewItems = CBORLimits(maxCollectionCount: 2)
        #expect(reason("83010203", limits: fewItems) == .limitExceeded("array count of 3 exceeds 2"))
    }

    @Test func nestingIsLimitedTo32() {
        let ok = String(repeating: "81", count: 31) + "00"
        #expect(reason(ok) == nil)
        let tooDeep = String(repeating: "81", count: 32) + "00"
        #expect(reason(tooDeep) == .tooDeep(limit: 32))
        let shallow = CBORLimits(maxDepth: 3)
        #expect(reason("818100", limits: shallow) == nil)
        #expect(reason("81818100", limits: shallow) == .tooDeep(limit: 3))
    }

    @Test func errorsNameTheOffset() throws {
        do {
            _ = try CBOR.decode([UInt8](testHex: "82011817"))
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 2)
            #expect(error.description.contains("byte 2"))
        }
    }

    @Test func encoderSortsKeysAndUsesShortestForms() throws {
        let item: CBOR = ["b": 1, "a": [true, false, nil], 10: .bytes([0xff]), "aa": -500]
        let bytes = item.encoded()
        #expect(bytes.testHex == "a40a41ff6161" + "83f5f4f6" + "616201" + "626161" + "3901f3")
        #expect(try CBOR.decode(bytes) == item)
        #expect(CBOR.int(Int64.min).encoded().testHex == "3b7fffffffffffffff")
        #expect(CBOR.unsigned(UInt64.max).encoded().testHex == "1bffffffffffffffff")
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if let item = try? CBOR.decode(bytes) {
                // Whatever is accepted is already canonical.
                #expect(item.encoded() == bytes)
            }
        }
    }
}
