public import KithCrypto
public import KithModel

/// A conversation participant for tests: a key and a signed manifest whose model commitment its
/// entries carry (version 2 entries need their author's manifest in the conversation).
public struct Speaker: Sendable {
    /// The signing key.
    public let key: Ed25519.KeyPair
    /// The manifest it brings into conversations.
    public let manifest: SignedObject
    /// That manifest's model commitment.
    public let model: [UInt8]
    /// Its identity.
    public var identity: Identity { Identity(publicKey: key.publicKey) }

    /// A speaker with a fresh key (or `key`), a manifest dated `ts` and valid for ten years.
    public init(key: Ed25519.KeyPair = .generate(), name: String = "Test", net: NetworkID = .main, ts: UInt64 = 1_700_000_000_000,
                model: [UInt8]? = nil) {
        self.key = key
        let model = model ?? BLAKE2b.hash(key.publicKey.bytes)
        self.model = model
        manifest = try! Manifest(id: Identity(publicKey: key.publicKey), seq: 1, ts: ts, exp: ts + 10 * 365 * 86_400_000, name: name, bio: "",
                                 interests: [], model: model, endpoints: [], caps: [], net: net).signed(with: key)
    }

    /// Signs this speaker's next entry in `log` (version 2, produced by `producer`), adding its
    /// manifest to the log first when the log lacks it; the entry is not appended.
    public func entry(in log: inout ConversationLog, kind: ConversationEntry.Kind = .say, text: String, ts: UInt64,
                      producer: ConversationEntry.Producer = .ai(engine: "test"), disclosed: [[UInt8]] = []) throws -> SignedObject {
        if log.manifest(of: identity, model: model) == nil { try log.addManifest(manifest) }
        return log.makeEntry(key: key, kind: kind, text: text, model: model, disclosed: disclosed, ts: ts, producer: producer)
    }

    /// Signs and appends this speaker's next entry to `log`.
    @discardableResult
    public func say(in log: inout ConversationLog, kind: ConversationEntry.Kind = .say, text: String, ts: UInt64,
                    producer: ConversationEntry.Producer = .ai(engine: "test")) throws -> SignedObject {
        let object = try entry(in: &log, kind: kind, text: text, ts: ts, producer: producer)
        try log.append(object)
        return object
    }
}
