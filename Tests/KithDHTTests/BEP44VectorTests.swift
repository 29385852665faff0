import Foundation
import KithCrypto
import KithDHT
import KithTestSupport
import Testing

/// BEP 44's own test vectors, byte for byte: the buffer signed, the target, and the signature
/// (verified with libsodium; the vectors give expanded secret keys, which libsodium does not sign with).
@Suite("BEP 44 test vectors")
struct BEP44VectorTests {
    static func vectors() throws -> [String: Any] {
        let url = Fixtures.publicVectors.appendingPathComponent("bep44-test-vectors.json")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test func mutableItemsMatchTheSpec() throws {
        let mutable = try #require(try Self.vectors()["mutable"] as? [[String: Any]])
        #expect(mutable.count == 2)
        for vector in mutable {
            let value = try Bencode.decode(Array((vector["value"] as! String).utf8))
            let salt = Array((vector["salt"] as! String).utf8)
            let seq = Int64(vector["seq"] as! Int)
            let signable = MutableItem.signable(salt: salt, seq: seq, encodedValue: value.encoded())
            #expect(signable == Array((vector["signed"] as! String).utf8), "\(vector["name"]!)")
            let key = [UInt8](testHex: vector["public_key"] as! String)
            #expect(MutableItem.target(key: key, salt: salt).bytes == [UInt8](testHex: vector["target"] as! String))
            let item = MutableItem(key: key, salt: salt, seq: seq, value: value,
                                   signature: [UInt8](testHex: vector["signature"] as! String))
            #expect(item.isValid, "\(vector["name"]!)")
            // Any change to what is signed breaks it.
            #expect(!MutableItem(key: key, salt: salt, seq: seq + 1, value: value, signature: item.signature).isValid)
            #expect(!MutableItem(key: key, salt: salt + [1], seq: seq, value: value, signature: item.signature).isValid)
            #expect(!MutableItem(key: key, salt: salt, seq: seq, value: .string("Hello World?"), signature: item.signature).isValid)
        }
    }

    @Test func immutableTargetIsTheSHA1OfTheValue() throws {
        let immutable = try #require(try Self.vectors()["immutable"] as? [[String: Any]])
        for vector in immutable {
            #expect(NodeID.sha1(Array((vector["value"] as! String).utf8)).bytes == [UInt8](testHex: vector["target"] as! String))
        }
    }

    @Test func itemsOverTheLimitsAreInvalid() {
        let keyPair = Ed25519.KeyPair.generate()
        let big = MutableItem.signed(value: .bytes([UInt8](repeating: 1, count: 997)), seq: 1, keyPair: keyPair)
        #expect(!big.isValid) // 4:997 + ":" makes 1,001 bytes
        let fits = MutableItem.signed(value: .bytes([UInt8](repeating: 1, count: 996)), seq: 1, keyPair: keyPair)
        #expect(fits.value.encoded().count == 1_000 && fits.isValid)
        #expect(!MutableItem.signed(value: .integer(1), seq: 1, salt: [UInt8](repeating: 0, count: 65), keyPair: keyPair).isValid)
        #expect(!MutableItem.signed(value: .integer(1), seq: -1, keyPair: keyPair).isValid)
    }
}
