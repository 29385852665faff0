import KithCrypto
import KithModel
import KithProtocol

/// Fixed keys and credentials, so every run of a target on an input behaves the same.
enum Fixtures {
    static let signerA = try! Ed25519.KeyPair(seed: secret(0xa1))
    static let signerB = try! Ed25519.KeyPair(seed: secret(0xb2))
    static let staticA = try! X25519.KeyPair(secretKey: secret(0xa3))
    static let staticB = try! X25519.KeyPair(secretKey: secret(0xb4))
    static let salt = secret(0x55)
    static let initiator = credentials(signerA, staticA)
    static let responder = credentials(signerB, staticB)

    /// The responder's own manifest (its entries carry this model commitment).
    static let responderManifest = try! Manifest(id: Identity(publicKey: signerB.publicKey), seq: 1, ts: 1_000, exp: 4_000_000_000_000,
                                                 name: "B", bio: "", interests: [], model: [UInt8](repeating: 8, count: 32), endpoints: [],
                                                 caps: [], net: .main).signed(with: signerB)

    static func secret(_ byte: UInt8) -> SecretBytes {
        SecretBytes(count: 32) { $0.initializeMemory(as: UInt8.self, repeating: byte) }
    }

    static func credentials(_ key: Ed25519.KeyPair, _ staticKey: X25519.KeyPair) -> SessionCredentials {
        SessionCredentials(signing: key, network: .main, staticKey: staticKey)
    }
}
