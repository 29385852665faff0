public import KithCBOR
public import KithCrypto

/// A profile manifest: the signed public projection of a person's identity model
/// (`Protocol/manifest.md`). Signed object type `manifest`, signer `id`.
public struct Manifest: Sendable, Hashable {
    /// Format version; always 1.
    public static let version: UInt64 = 1
    /// The signed object type.
    public static let type = "manifest"
    /// Largest signed payload, in bytes.
    public static let maxBytes = 8192

    /// The identity that signs the manifest.
    public var id: Identity
    /// Sequence number; a higher one replaces a lower one.
    public var seq: UInt64
    /// Issue time, milliseconds since the Unix epoch.
    public var ts: UInt64
    /// Expiry time, milliseconds since the Unix epoch (after `ts`).
    public var exp: UInt64
    /// Display name.
    public var name: String
    /// Short public biography.
    public var bio: String
    /// Public interests.
    public var interests: [String]
    /// The model commitment (32 bytes).
    public var model: [UInt8]
    /// Where the node can be reached, like `tcp://host:port` and `udp://host:port`.
    public var endpoints: [String]
    /// Capabilities the node offers.
    public var caps: [String]
    /// The network id.
    public var net: NetworkID
    /// Friends whose nodes relay for this one behind its NAT (`Protocol/transport.md`, relays);
    /// the field is present only when the list is not empty.
    public var relays: [Identity]

    /// Field limits, enforced when signing and when verifying.
    public enum Limits {
        /// Name: 1–64 bytes of UTF-8.
        public static let name = 64
        /// Bio: at most 1024 bytes.
        public static let bio = 1024
        /// At most 32 interests…
        public static let interests = 32
        /// …each 1–64 bytes.
        public static let interest = 64
        /// At most 8 endpoints of at most 256 bytes.
        public static let endpoints = 8
        /// Longest endpoint.
        public static let endpoint = 256
        /// At most 16 capabilities of 1–32 bytes.
        public static let caps = 16
        /// Longest capability.
        public static let cap = 32
        /// Most relays.
        public static let relays = 4
    }

    /// Creates a manifest.
    public init(id: Identity, seq: UInt64, ts: UInt64, exp: UInt64, name: String, bio: String,
                interests: [String], model: [UInt8], endpoints: [String], caps: [String], net: NetworkID, relays: [Identity] = []) {
        self.id = id
        self.seq = seq
        self.ts = ts
        self.exp = exp
        self.name = name
        self.bio = bio
        self.interests = interests
        self.model = model
        self.endpoints = endpoints
        self.caps = caps
        self.net = net
        self.relays = relays
    }

    /// The payload map that gets signed.
    public var payload: CBOR {
        var map: [String: CBOR] = [
            "v": .unsigned(Manifest.version),
            "id": .bytes(id.bytes),
            "seq": .unsigned(seq),
            "ts": .unsigned(ts),
            "exp": .unsigned(exp),
            "name": .text(name),
            "bio": .text(bio),
            "interests": .array(interests.map(CBOR.text)),
            "model": .bytes(model),
            "endpoints": .array(endpoints.map(CBOR.text)),
            "caps": .array(caps.map(CBOR.text)),
            "net": .bytes(net.bytes),
        ]
        if !relays.isEmpty { map["relays"] = .array(relays.map { .bytes($0.bytes) }) }
        return .textMap(map)
    }

    /// Signs the manifest with `key`, which must be the key of ``id``. Throws when a field
    /// breaks a limit.
    public func signed(with key: Ed25519.KeyPair) throws(SignedObjectError) -> SignedObject {
        precondition(key.publicKey == id.publicKey, "a manifest is signed by its own identity")
        try validateFields()
        let object = SignedObject.sign(type: Manifest.type, payload: payload, with: key)
        guard object.bytes.count <= Manifest.maxBytes else {
            throw .invalid("manifest is \(object.bytes.count) bytes; the limit is \(Manifest.maxBytes)")
        }
        return object
    }

    /// Verifies a received manifest: type, size, strict decoding, every field, and the
    /// signature by the key in `id`. Expiry is checked only when `now` is given.
    public static func verify(_ object: SignedObject, now: UInt64? = nil) throws(SignedObjectError) -> Manifest {
        guard object.type == type else { throw .malformed("expected a manifest, got a '\(object.type)' object") }
        guard object.bytes.count <= maxBytes else { throw .malformed("manifest is \(object.bytes.count) bytes; the limit is \(maxBytes)") }
        let map = try object.payload(limits: CBORLimits(maxInputSize: maxBytes, maxDepth: 3))
        let manifest = try Manifest(payload: map)
        guard object.isSigned(by: manifest.id) else { throw .badSignature }
        if let now, now >= manifest.exp {
            throw .invalid("manifest expired at \(manifest.exp) ms (now \(now) ms)")
        }
        return manifest
    }

    /// Reads the fields of a decoded payload strictly: exactly the v1 keys, each of its type.
    init(payload map: [String: CBOR]) throws(SignedObjectError) {
        let expected: Set<String> = ["v", "id", "seq", "ts", "exp", "name", "bio", "interests", "model", "endpoints", "caps", "net"]
        let keys = Set(map.keys)
        if let unknown = keys.subtracting(expected).subtracting(["relays"]).sorted().first { throw .malformed("unknown field '\(unknown)'") }
        if let missing = expected.subtracting(keys).sorted().first { throw .malformed("missing field '\(missing)'") }
        let fields = FieldReader(map: map)
        guard try fields.unsigned("v") == Manifest.version else { throw .malformed("unsupported manifest version") }
        id = try fields.identity("id")
        seq = try fields.unsigned("seq")
        ts = try fields.unsigned("ts")
        exp = try fields.unsigned("exp")
        name = try fields.text("name")
        bio = try fields.text("bio")
        interests = try fields.textArray("interests")
        model = try fields.bytes("model", count: 32)
        endpoints = try fields.textArray("endpoints")
        caps = try fields.textArray("caps")
        net = try NetworkID(bytes: fields.bytes("net", count: 32))
        if let listed = map["relays"] {
            // Present only when not empty, so one manifest has one encoding.
            guard case .array(let items) = listed, !items.isEmpty, items.count <= Limits.relays else {
                throw .malformed("'relays' must be a non-empty array of at most \(Limits.relays) identities")
            }
            relays = try items.map { item throws(SignedObjectError) in
                guard case .bytes(let raw) = item, let id = try? Identity(publicKeyBytes: raw) else {
                    throw .malformed("'relays' must hold 32-byte Ed25519 public keys")
                }
                return id
            }
        } else {
            relays = []
        }
        try validateFields()
    }

    /// Checks every field against ``Limits`` and the format rules.
    func validateFields() throws(SignedObjectError) {
        func check(_ ok: Bool, _ why: @autoclosure () -> String) throws(SignedObjectError) {
            if !ok { throw .invalid(why()) }
        }
        try check(seq >= 1, "seq starts at 1")
        try check(exp > ts, "exp must be after ts")
        try check((1...Limits.name).contains(name.utf8.count), "name must be 1-\(Limits.name) bytes")
        try check(bio.utf8.count <= Limits.bio, "bio is longer than \(Limits.bio) bytes")
        try check(interests.count <= Limits.interests, "more than \(Limits.interests) interests")
        try check(interests.allSatisfy { (1...Limits.interest).contains($0.utf8.count) }, "each interest must be 1-\(Limits.interest) bytes")
        try check(endpoints.count <= Limits.endpoints, "more than \(Limits.endpoints) endpoints")
        try check(endpoints.allSatisfy(Endpoint.isValid), "endpoints must look like tcp://host:port or udp://host:port")
        try check(caps.count <= Limits.caps, "more than \(Limits.caps) capabilities")
        try check(caps.allSatisfy { (1...Limits.cap).contains($0.utf8.count) }, "each capability must be 1-\(Limits.cap) bytes")
        try check(relays.count <= Limits.relays && Set(relays).count == relays.count && !relays.contains(id),
                  "at most \(Limits.relays) distinct relays, never the manifest's own identity")
    }
}

/// Typed access to the fields of a decoded payload, with errors that name the field.
struct FieldReader {
    let map: [String: CBOR]

    func value(_ key: String) throws(SignedObjectError) -> CBOR {
        guard let v = map[key] else { throw .malformed("missing field '\(key)'") }
        return v
    }

    func unsigned(_ key: String) throws(SignedObjectError) -> UInt64 {
        guard case .unsigned(let v) = try value(key) else { throw .malformed("'\(key)' must be an unsigned integer") }
        return v
    }

    func text(_ key: String) throws(SignedObjectError) -> String {
        guard case .text(let v) = try value(key) else { throw .malformed("'\(key)' must be text") }
        return v
    }

    func bytes(_ key: String, count: Int? = nil) throws(SignedObjectError) -> [UInt8] {
        guard case .bytes(let v) = try value(key) else { throw .malformed("'\(key)' must be a byte string") }
        if let count, v.count != count { throw .malformed("'\(key)' must be \(count) bytes, got \(v.count)") }
        return v
    }

    func identity(_ key: String) throws(SignedObjectError) -> Identity {
        let raw = try bytes(key, count: 32)
        do { return try Identity(publicKeyBytes: raw) } catch { throw .malformed("'\(key)': \(error)") }
    }

    func textArray(_ key: String) throws(SignedObjectError) -> [String] {
        guard case .array(let items) = try value(key) else { throw .malformed("'\(key)' must be an array") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .text(let t) = item else { throw .malformed("'\(key)' must hold only text") }
            out.append(t)
        }
        return out
    }
}
