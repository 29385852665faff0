import KithCrypto
import KithTestSupport
import Testing

@Suite("Primitives")
struct PrimitiveTests {
    @Test func signatureRoundTripsAndRejectsAnyFlippedBit() throws {
        let pair = Ed25519.KeyPair.generate()
        let message = Array("kith".utf8)
        let sig = pair.sign(message)
        #expect(pair.publicKey.isValidSignature(sig, for: message))
        for i in 0..<sig.count {
            var bad = sig
            bad[i] ^= 0x01
            #expect(!pair.publicKey.isValidSignature(bad, for: message))
        }
        #expect(!pair.publicKey.isValidSignature(sig, for: Array("kitH".utf8)))
        #expect(!pair.publicKey.isValidSignature(Array(sig.dropLast()), for: message))
    }

    @Test func keyPairFromSeedIsDeterministic() throws {
        var seed = [UInt8](repeating: 7, count: 32)
        let a = try Ed25519.KeyPair(seed: SecretBytes(consuming: &seed))
        #expect(seed == [UInt8](repeating: 0, count: 32), "the caller's copy of the seed is zeroed")
        var seed2 = [UInt8](repeating: 7, count: 32)
        let b = try Ed25519.KeyPair(seed: SecretBytes(consuming: &seed2))
        #expect(a.publicKey == b.publicKey)
        #expect(a.seed().constantTimeEquals(b.seed()))
        #expect(a.sign([1, 2, 3]) == b.sign([1, 2, 3]))
    }

    @Test func wrongKeyLengthsAreRefused() {
        #expect(throws: CryptoError.self) { try Ed25519.PublicKey(bytes: [1, 2, 3]) }
        var short = [UInt8](repeating: 1, count: 31)
        #expect(throws: CryptoError.self) { try Ed25519.KeyPair(seed: SecretBytes(consuming: &short)) }
    }

    @Test func blake2bMatchesKnownAnswer() {
        // RFC 7693 Appendix A: BLAKE2b-512("abc").
        let digest = BLAKE2b.hash(Array("abc".utf8), length: 64)
        #expect(digest.testHex == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        #expect(BLAKE2b.hash([1, 2], [3]) == BLAKE2b.hash([1, 2, 3]))
        #expect(BLAKE2b.hash([1, 2, 3], key: [9]) != BLAKE2b.hash([1, 2, 3]))
    }

    @Test func aeadOpensWhatItSealsAndRejectsTampering() throws {
        let key = SecretBytes.random(count: 32)
        let nonce = [UInt8](repeating: 0, count: 12)
        let sealed = try ChaCha20Poly1305.seal(Array("hello".utf8), key: key, nonce: nonce, ad: [1])
        #expect(try ChaCha20Poly1305.open(sealed, key: key, nonce: nonce, ad: [1]) == Array("hello".utf8))
        var bad = sealed
        bad[0] ^= 1
        #expect(throws: CryptoError.decryptionFailed) { try ChaCha20Poly1305.open(bad, key: key, nonce: nonce, ad: [1]) }
        #expect(throws: CryptoError.decryptionFailed) { try ChaCha20Poly1305.open(sealed, key: key, nonce: nonce, ad: [2]) }
    }

    @Test func passwordBoxNeedsTheRightPassphrase() throws {
        var pass = Array("correct horse".utf8)
        let passphrase = SecretBytes(consuming: &pass)
        let secret = SecretBytes.random(count: 64)
        let sealed = try PasswordBox.seal(secret, passphrase: passphrase, cost: .interactive)
        #expect(try PasswordBox.open(sealed, passphrase: passphrase).constantTimeEquals(secret))
        var wrong = Array("wrong horse".utf8)
        #expect(throws: CryptoError.decryptionFailed) {
            try PasswordBox.open(sealed, passphrase: SecretBytes(consuming: &wrong))
        }
        var hostile = sealed
        hostile.cost.memLimit = 1 << 40
        #expect(throws: CryptoError.self) { try PasswordBox.open(hostile, passphrase: passphrase) }
    }

    @Test func constantTimeEqualityComparesContentAndLength() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }
}
