import Foundation
import KithCrypto
import KithModel
import KithTestSupport
import Testing

@Suite("did:key identities")
struct DIDKeyTests {
    private struct VectorCase {
        let did: String
        let seed: [UInt8]
        let publicKey: [UInt8]
        let x25519Public: [UInt8]
        let x25519Private: [UInt8]
    }

    private struct BadVector: Error {}

    private static func base58(_ value: Any?) throws -> [UInt8] {
        guard let text = value as? String, let bytes = Base58.decode(text) else { throw BadVector() }
        return bytes
    }

    private static func base64url(_ value: Any?) throws -> [UInt8] {
        guard let text = value as? String, let bytes = Base64URL.decode(text) else { throw BadVector() }
        return bytes
    }

    private static func cases() throws -> [VectorCase] {
        let root = try #require(try Fixtures.publicVectorJSON("did-key-ed25519-x25519.json") as? [String: [String: Any]])
        return try root.map { did, entry in
            let seed = [UInt8](testHex: try #require(entry["seed"] as? String))
            let vkp = try #require(entry["verificationKeyPair"] as? [String: Any])
            let kap = try #require(entry["keyAgreementKeyPair"] as? [String: Any])
            if vkp["publicKeyBase58"] != nil {
                return VectorCase(did: did, seed: seed, publicKey: try base58(vkp["publicKeyBase58"]),
                                  x25519Public: try base58(kap["publicKeyBase58"]), x25519Private: try base58(kap["privateKeyBase58"]))
            }
            // The JWK-shaped entry.
            let pubJWK = vkp["publicKeyJwk"] as? [String: String]
            let xPub = kap["publicKeyJwk"] as? [String: String]
            let xPriv = kap["privateKeyJwk"] as? [String: String]
            return VectorCase(did: did, seed: seed, publicKey: try base64url(pubJWK?["x"]),
                              x25519Public: try base64url(xPub?["x"]), x25519Private: try base64url(xPriv?["d"]))
        }
    }

    @Test func everyVectorDerivesTheSameDIDAndX25519Keys() throws {
        let cases = try Self.cases()
        #expect(cases.count == 5)
        for c in cases {
            var seed = c.seed
            let pair = try Ed25519.KeyPair(seed: SecretBytes(consuming: &seed))
            #expect(pair.publicKey.bytes == c.publicKey, "\(c.did)")
            let identity = Identity(publicKey: pair.publicKey)
            #expect(identity.did == c.did)
            #expect(try Identity(did: c.did) == identity)
            #expect(try pair.publicKey.x25519PublicKey() == c.x25519Public, "\(c.did)")
            let xsk = pair.x25519SecretKey().withUnsafeBytes { Array($0) }
            #expect(xsk == c.x25519Private, "\(c.did)")
            // The converted secret key agrees with the converted public key.
            let derived = try X25519.KeyPair(secretKey: pair.x25519SecretKey())
            #expect(derived.publicKey == c.x25519Public)
        }
    }

    @Test(arguments: [
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW",     // one character short
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp0",   // '0' is not base58
        "did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",     // no multibase prefix
        "did:web:example.com",
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",   // secp256k1, not Ed25519
        "",
    ])
    func malformedDIDsAreRejected(text: String) {
        #expect(throws: IdentityError.self) { try Identity(did: text) }
    }

    @Test func base58RoundTripsAndKeepsLeadingZeros() throws {
        for bytes: [UInt8] in [[], [0], [0, 0, 1], [0xff, 0xfe], Array(0..<40)] {
            #expect(Base58.decode(Base58.encode(bytes)) == bytes)
        }
        #expect(Base58.encode(Array("hello world".utf8)) == "StV1DL6CwTryKyV")
        #expect(Base58.decode(String(repeating: "z", count: 300)) == nil)
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(Base64URL.decode("-_8") == [0xfb, 0xff])
        #expect(Base64URL.decode("-_9") == nil, "non-zero unused bits")
        #expect(Base64URL.decode("-_8=") == nil, "padding")
        #expect(Base64URL.decode("+/8") == nil, "standard alphabet")
        #expect(Base64URL.decode("A") == nil)
        for n in 0..<10 {
            let bytes = (0..<n).map { UInt8($0 * 37 & 0xff) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }
}
