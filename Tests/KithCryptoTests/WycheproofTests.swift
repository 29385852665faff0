import KithCrypto
import KithTestSupport
import Testing

@Suite("Wycheproof vectors")
struct WycheproofTests {
    @Test func ed25519VerifiesEveryWycheproofCaseAsExpected() throws {
        let root = try #require(try Fixtures.publicVectorJSON("wycheproof-ed25519_test.json") as? [String: Any])
        let groups = try #require(root["testGroups"] as? [[String: Any]])
        var checked = 0
        for group in groups {
            let pkHex = try #require((group["publicKey"] as? [String: Any])?["pk"] as? String)
            let key = try Ed25519.PublicKey(bytes: [UInt8](testHex: pkHex))
            for test in try #require(group["tests"] as? [[String: Any]]) {
                let msg = [UInt8](testHex: test["msg"] as! String)
                let sig = [UInt8](testHex: test["sig"] as! String)
                let expected = (test["result"] as! String) == "valid"
                #expect(key.isValidSignature(sig, for: msg) == expected, "tcId \(test["tcId"]!)")
                checked += 1
            }
        }
        #expect(checked == root["numberOfTests"] as? Int)
    }

    @Test func x25519MatchesEveryWycheproofCase() throws {
        let root = try #require(try Fixtures.publicVectorJSON("wycheproof-x25519_test.json") as? [String: Any])
        let groups = try #require(root["testGroups"] as? [[String: Any]])
        var valid = 0, acceptableRejected = 0
        for group in groups {
            for test in try #require(group["tests"] as? [[String: Any]]) {
                var priv = [UInt8](testHex: test["private"] as! String)
                let pub = [UInt8](testHex: test["public"] as! String)
                let shared = [UInt8](testHex: test["shared"] as! String)
                let result = test["result"] as! String
                let secret = SecretBytes(consuming: &priv)
                do {
                    let out = try X25519.sharedSecret(secretKey: secret, publicKey: pub)
                    #expect(out.withUnsafeBytes { Array($0) } == shared, "tcId \(test["tcId"]!)")
                    if result == "valid" { valid += 1 }
                } catch {
                    // libsodium refuses all-zero secrets; Wycheproof lists those as `acceptable`.
                    #expect(result == "acceptable", "tcId \(test["tcId"]!) rejected: \(error)")
                    #expect(shared.allSatisfy { $0 == 0 })
                    acceptableRejected += 1
                }
            }
        }
        #expect(valid > 0)
        #expect(acceptableRejected > 0)
    }
}
