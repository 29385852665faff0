import KithDHT
import Testing

@Suite("Bencode: canonical and strict")
struct BencodeTests {
    @Test func encodesCanonicallyAndRoundTrips() throws {
        let value = Bencode.dict([
            "z": .integer(-42), "a": .list([.string("spam"), .integer(0)]), "m": .bytes([0, 255]),
        ])
        let bytes = value.encoded()
        #expect(bytes == Array("d1:al4:spami0ee1:m2:".utf8) + [0, 255] + Array("1:zi-42ee".utf8))
        #expect(try Bencode.decode(bytes) == value)
        #expect(Bencode.string("Hello World!").encoded() == Array("12:Hello World!".utf8))
        #expect(Bencode.integer(Int64.min).encoded() == Array("i-9223372036854775808e".utf8))
        #expect(try Bencode.decode(Array("i9223372036854775807e".utf8)) == .integer(.max))
    }

    @Test(arguments: [
        "d1:bi1e1:ai2ee",   // keys out of order
        "d1:ai1e1:ai2ee",   // repeated key
        "i03e", "i-0e", "ie", "i-e", "i1", "i9223372036854775808e", "i99999999999999999999e",
        "03:abc", "4:abc", "-1:a", "1a", ":", "",
        "l", "d", "d1:a", "di1ei2ee",   // integer key
        "i1ei2e",            // trailing value
        "x", "l1:ae ",
    ])
    func refusesWhatIsNotCanonical(_ text: String) {
        #expect(throws: BencodeError.self) { try Bencode.decode(Array(text.utf8)) }
    }

    @Test func boundsSizeDepthAndItems() {
        let deep = String(repeating: "l", count: 100) + String(repeating: "e", count: 100)
        #expect(throws: BencodeError.tooDeep) { try Bencode.decode(Array(deep.utf8)) }
        let many = "l" + String(repeating: "0:", count: 600) + "e"
        #expect(throws: BencodeError.tooManyItems) { try Bencode.decode(Array(many.utf8)) }
        #expect(throws: BencodeError.tooLarge(2_000)) { try Bencode.decode([UInt8](repeating: 0x31, count: 2_000)) }
        // A length claiming more than the input is truncated, not an allocation.
        #expect(throws: BencodeError.truncated) { try Bencode.decode(Array("999999999:abc".utf8)) }
    }
}
