public import KithCrypto

/// A node's secrets: its identity signing key and the salt of its model commitments.
public struct NodeKeys: Sendable {
    /// The Ed25519 key pair that is the node's identity.
    public let signing: Ed25519.KeyPair
    /// 32 secret bytes that key every model commitment (see ``ModelCommitment``).
    public let modelSalt: SecretBytes

    /// Length of ``modelSalt``.
    public static let modelSaltLength = 32

    /// Wraps existing secrets.
    public init(signing: Ed25519.KeyPair, modelSalt: SecretBytes) {
        precondition(modelSalt.count == NodeKeys.modelSaltLength, "model salt must be 32 bytes")
        self.signing = signing
        self.modelSalt = modelSalt
    }

    /// Fresh random secrets.
    public static func generate() -> NodeKeys {
        NodeKeys(signing: .generate(), modelSalt: .random(count: modelSaltLength, locked: true))
    }

    /// The public identity.
    public var identity: Identity { Identity(publicKey: signing.publicKey) }
}
