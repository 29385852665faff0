import KithCBOR
public import KithModel

/// Gossip's messages between friends (`Protocol/gossip.md`).
public enum GossipMessage: Sendable, Hashable {
    /// What the sender holds in the receiver's scope: manifest versions and record versions.
    case digest(manifests: [ManifestVersion], records: [RecordVersion])
    /// What the receiver should send: manifests by identity, records by key.
    case want(manifests: [Identity], records: [RecordKey])
    /// Signed objects answering a `want` (stored, not forwarded).
    case items(manifests: [SignedObject], records: [SignedObject])
    /// Signed objects pushed along the push tree (stored and forwarded).
    case push(manifests: [SignedObject], records: [SignedObject])

    /// `(id, seq)`: a manifest version in a digest.
    public struct ManifestVersion: Sendable, Hashable {
        /// Whose manifest.
        public var id: Identity
        /// Its seq.
        public var seq: UInt64
        /// Creates a version.
        public init(id: Identity, seq: UInt64) { self.id = id; self.seq = seq }
    }

    /// The signer and pair of a connection record: which record a `want` asks for.
    public struct RecordKey: Sendable, Hashable {
        /// The bytewise smaller identity.
        public var a: Identity
        /// The larger one.
        public var b: Identity
        /// The signer, `a` or `b`.
        public var by: Identity
        /// Creates a key.
        public init(a: Identity, b: Identity, by: Identity) { self.a = a; self.b = b; self.by = by }
        /// The key of `record`.
        public init(_ record: ConnectionRecord) { self.init(a: record.a, b: record.b, by: record.by) }
    }

    /// A record version in a digest: its key, time and kind.
    public struct RecordVersion: Sendable, Hashable {
        /// Which record.
        public var key: RecordKey
        /// Its signing time, ms.
        public var ts: UInt64
        /// True for a revocation.
        public var revoked: Bool
        /// Creates a version.
        public init(key: RecordKey, ts: UInt64, revoked: Bool) { self.key = key; self.ts = ts; self.revoked = revoked }
        /// The version of `record`.
        public init(_ record: ConnectionRecord) { self.init(key: RecordKey(record), ts: record.ts, revoked: record.kind == .revocation) }
        /// The record it describes, unsigned (for comparing against held records).
        var record: ConnectionRecord {
            ConnectionRecord(signer: key.by, other: key.by == key.a ? key.b : key.a, ts: ts, kind: revoked ? .revocation : .connection)
        }
    }

    static let types: Set<String> = ["digest", "want", "items", "push"]

    /// True for the wire types of this protocol (to attribute a malformed message).
    public static func isGossipType(_ type: String) -> Bool { types.contains(type) }

    var type: String {
        switch self {
        case .digest: "digest"
        case .want: "want"
        case .items: "items"
        case .push: "push"
        }
    }

    var fields: [String: CBOR] {
        switch self {
        case .digest(let m, let r):
            ["m": .array(m.map { .array([.bytes($0.id.bytes), .unsigned($0.seq)]) }),
             "r": .array(r.map { .array([.bytes($0.key.a.bytes), .bytes($0.key.b.bytes), .bytes($0.key.by.bytes), .unsigned($0.ts), .bool($0.revoked)]) })]
        case .want(let m, let r):
            ["m": .array(m.map { .bytes($0.bytes) }), "r": .array(r.map { .array([.bytes($0.a.bytes), .bytes($0.b.bytes), .bytes($0.by.bytes)]) })]
        case .items(let m, let r), .push(let m, let r):
            ["m": .array(m.map(\.wireValue)), "r": .array(r.map(\.wireValue))]
        }
    }

    init(_ reader: inout MessageReader) throws(PeerMessageError) {
        let m = try reader.array("m"), r = try reader.array("r")
        switch reader.type {
        case "digest":
            self = .digest(manifests: try m.map { (item) throws(PeerMessageError) in
                guard case .array(let pair) = item, pair.count == 2, case .unsigned(let seq) = pair[1] else {
                    throw reader.fail("a digest manifest entry must be [id, seq]")
                }
                return ManifestVersion(id: try reader.identity(pair[0], "m"), seq: seq)
            }, records: try r.map { (item) throws(PeerMessageError) in
                guard case .array(let f) = item, f.count == 5, case .unsigned(let ts) = f[3], case .bool(let revoked) = f[4] else {
                    throw reader.fail("a digest record entry must be [a, b, by, ts, revoked]")
                }
                return RecordVersion(key: try Self.recordKey(f, reader), ts: ts, revoked: revoked)
            })
        case "want":
            self = .want(manifests: try m.map { (item) throws(PeerMessageError) in try reader.identity(item, "m") },
                         records: try r.map { (item) throws(PeerMessageError) in
                guard case .array(let f) = item, f.count == 3 else { throw reader.fail("a wanted record must be [a, b, by]") }
                return try Self.recordKey(f, reader)
            })
        default:
            let manifests = try m.map { (item) throws(PeerMessageError) in try reader.signedObject(item, "m") }
            let records = try r.map { (item) throws(PeerMessageError) in try reader.signedObject(item, "r") }
            self = reader.type == "items" ? .items(manifests: manifests, records: records) : .push(manifests: manifests, records: records)
        }
    }

    private static func recordKey(_ f: [CBOR], _ reader: MessageReader) throws(PeerMessageError) -> RecordKey {
        let a = try reader.identity(f[0], "r"), b = try reader.identity(f[1], "r"), by = try reader.identity(f[2], "r")
        guard a < b, by == a || by == b else { throw reader.fail("a record key needs a < b and by ∈ {a, b}") }
        return RecordKey(a: a, b: b, by: by)
    }
}
