public import KithCBOR
public import KithCrypto

/// A signed object: deterministic CBOR `bytes` of a text-keyed map, and an Ed25519 `sig` over
/// UTF-8 `kith/v1/<type>` ‖ 0x00 ‖ `bytes`. The exact received bytes are kept and verified;
/// nothing is ever re-encoded to check a signature.
public struct SignedObject: Sendable, Hashable {
    /// The object type, e.g. `manifest`: lowercase ASCII letters and `-`, 1–32 characters.
    public let type: String
    /// The deterministic CBOR payload, exactly as signed.
    public let bytes: [UInt8]
    /// The 64-byte Ed25519 signature.
    public let sig: [UInt8]

    /// Largest payload any signed object may carry (a type may set a smaller limit).
    public static let maxBytes = 65_536

    /// Wraps received parts after checking their shapes (not the signature).
    public init(type: String, bytes: [UInt8], sig: [UInt8]) throws(SignedObjectError) {
        guard SignedObject.isValidTypeName(type) else { throw .malformed("invalid type name '\(type.prefix(40))'") }
        guard bytes.count <= SignedObject.maxBytes else { throw .malformed("payload of \(bytes.count) bytes exceeds \(SignedObject.maxBytes)") }
        guard sig.count == Ed25519.signatureLength else { throw .malformed("signature must be 64 bytes, got \(sig.count)") }
        self.type = type
        self.bytes = bytes
        self.sig = sig
    }

    /// Signs `payload` (a text-keyed CBOR map) as an object of `type`.
    public static func sign(type: String, payload: CBOR, with key: Ed25519.KeyPair) -> SignedObject {
        precondition(isValidTypeName(type), "invalid signed object type")
        let bytes = payload.encoded()
        let sig = key.sign(signingMessage(type: type, bytes: bytes))
        return try! SignedObject(type: type, bytes: bytes, sig: sig)
    }

    /// The message the signature covers: UTF-8 `kith/v1/<type>` ‖ 0x00 ‖ `bytes`.
    public static func signingMessage(type: String, bytes: [UInt8]) -> [UInt8] {
        let prefix = "kith/v1/".utf8
        var message: [UInt8] = []
        message.reserveCapacity(prefix.count + type.utf8.count + 1 + bytes.count)
        message.append(contentsOf: prefix)
        message.append(contentsOf: type.utf8)
        message.append(0)
        message.append(contentsOf: bytes)
        return message
    }

    /// BLAKE2b-256 of `bytes` ‖ `sig`: the object's identity in logs and indexes.
    public var hash: [UInt8] { BLAKE2b.hash(bytes, sig) }

    /// True when the signature verifies under `signer` for this type and these exact bytes.
    public func isSigned(by signer: Identity) -> Bool {
        signer.isValidSignature(sig, for: SignedObject.signingMessage(type: type, bytes: bytes))
    }

    /// Decodes the payload strictly as a text-keyed map.
    public func payload(limits: CBORLimits = .default) throws(SignedObjectError) -> [String: CBOR] {
        do { return try CBOR.decodeTextKeyedMap(bytes, limits: limits) } catch { throw .malformed("payload: \(error)") }
    }

    static func isValidTypeName(_ type: String) -> Bool {
        let utf8 = type.utf8
        return (1...32).contains(utf8.count) && utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "-") }
    }
}

/// A signed object that is malformed or does not verify.
public enum SignedObjectError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not a well-formed object of the expected kind.
    case malformed(String)
    /// The signature does not verify under the key the object names.
    case badSignature
    /// The object is well formed and signed but breaks a rule of its type.
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed: \(why)"
        case .badSignature: return "bad signature: the bytes were altered or were not signed by the key they name"
        case .invalid(let why): return "invalid: \(why)"
        }
    }
}
