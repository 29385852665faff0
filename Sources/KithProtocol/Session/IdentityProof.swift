import KithCBOR
public import KithCrypto
public import KithModel

/// The handshake payload that binds an Ed25519 identity to a Noise static key:
/// deterministic CBOR `{"id": key (32), "sig": Ed25519(id, "kith-noise-static:" ‖ static key)}`.
public struct IdentityProof: Sendable, Hashable {
    /// The identity.
    public let identity: Identity
    /// The signature over the static key.
    public let signature: [UInt8]

    static let domain = Array("kith-noise-static:".utf8)

    /// Signs `staticKey` with `signing`.
    public init(signing: Ed25519.KeyPair, staticKey: [UInt8]) {
        identity = Identity(publicKey: signing.publicKey)
        signature = signing.sign(IdentityProof.domain + staticKey)
    }

    /// The encoded payload.
    public var encoded: [UInt8] {
        CBOR.textMap(["id": .bytes(identity.bytes), "sig": .bytes(signature)]).encoded()
    }

    /// Decodes a payload and checks that it signs `staticKey`.
    public init(decoding payload: [UInt8], staticKey: [UInt8]) throws(SessionError) {
        let item: CBOR
        do { item = try CBOR.decode(payload, limits: CBORLimits(maxInputSize: 256, maxDepth: 2)) } catch {
            throw .badIdentityProof("\(error)")
        }
        guard case .map(let map) = item, map.count == 2, case .bytes(let id)? = map[.text("id")],
              case .bytes(let sig)? = map[.text("sig")], sig.count == 64
        else { throw .badIdentityProof("expected {\"id\": 32 bytes, \"sig\": 64 bytes}") }
        let identity: Identity
        do { identity = try Identity(publicKeyBytes: id) } catch { throw .badIdentityProof("\(error)") }
        guard identity.isValidSignature(sig, for: IdentityProof.domain + staticKey) else {
            throw .badIdentityProof("the signature over the Noise static key does not verify")
        }
        self.identity = identity
        self.signature = sig
    }
}
