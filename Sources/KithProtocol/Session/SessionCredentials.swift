public import KithCrypto
public import KithModel

/// What a node brings to every session: its identity, a Noise static key signed by it, and its
/// network (sent in the hello; nothing else goes to a peer before the node decides to).
public struct SessionCredentials: Sendable {
    /// The node's identity key.
    public let signing: Ed25519.KeyPair
    /// The Noise static key (per process; bound to the identity by ``proof``).
    public let staticKey: X25519.KeyPair
    /// The identity's signature over the static key, made once.
    public let proof: IdentityProof
    /// The network the node belongs to.
    public let network: NetworkID

    /// Creates credentials with a fresh static key.
    public init(signing: Ed25519.KeyPair, network: NetworkID, staticKey: X25519.KeyPair = .generate()) {
        self.signing = signing
        self.staticKey = staticKey
        self.proof = IdentityProof(signing: signing, staticKey: staticKey.publicKey)
        self.network = network
    }

    /// The node's identity.
    public var identity: Identity { proof.identity }

    /// The Noise prologue: UTF-8 `kith/1` ‖ network id.
    public var prologue: [UInt8] { Array("kith/1".utf8) + network.bytes }
}
