public import KithModel
public import KithProtocol
public import KithStore

/// An opened node: its secrets, its person's model, its store and its own identity record.
public struct NodeContext: Sendable {
    /// Where the node lives.
    public let home: NodeHome
    /// The node's secrets.
    public let keys: NodeKeys
    /// The person's identity model as last loaded.
    public let model: IdentityModel
    /// The node's database.
    public let store: Store
    /// The node's identity and network.
    public let record: OwnIdentityRecord

    /// How long a freshly signed manifest stays valid: 30 days.
    public static let manifestLifetime: UInt64 = 30 * 24 * 3600 * 1000
    /// A manifest is re-signed when less than this much of its lifetime is left: 7 days.
    public static let manifestRenewal: UInt64 = 7 * 24 * 3600 * 1000

    /// The node's identity.
    public var identity: Identity { keys.identity }

    /// The manifest the model calls for now, before signing. It never carries network
    /// addresses: they go to friends only (`Protocol/disclosure.md`).
    public func projectedManifest(seq: UInt64, now: UInt64, caps: [String] = [], relays: [Identity] = []) -> Manifest {
        Manifest(id: identity, seq: seq, ts: now, exp: now + NodeContext.manifestLifetime, name: model.name, bio: model.bio,
                 interests: model.interests, model: model.commitment(salt: keys.modelSalt), endpoints: [],
                 caps: caps, net: record.networkID, relays: relays)
    }

    /// The newest manifest this node signed, as stored (never signs).
    public func storedManifest() throws(NodeError) -> StoredManifest? {
        do { return try store.manifest(of: identity) } catch { throw NodeError("cannot read \(home.databaseFile): \(error)") }
    }

    /// True when `identity.yaml`'s public part (name, bio, interests, model commitment) differs
    /// from what `manifest` says.
    public func modelDiffers(from manifest: Manifest) -> Bool {
        let projected = projectedManifest(seq: manifest.seq, now: manifest.ts)
        return projected.name != manifest.name || projected.bio != manifest.bio || projected.interests != manifest.interests
            || projected.model != manifest.model
    }

    /// The node's current signed manifest. When the stored one still matches the model, is not
    /// close to expiry and its seq is above `heldElsewhere` it is returned unchanged; otherwise a
    /// new one is signed and stored. Its seq is the signing time in ms, or the stored seq + 1 (or
    /// `heldElsewhere` + 1) if that is higher: a node restored from an old backup never signs a
    /// seq it signed before with other bytes, so no friend flags it (`Protocol/manifest.md`).
    public func currentManifest(now: UInt64 = WallClock.system.now(), caps: [String] = [], relays: [Identity]? = nil,
                                heldElsewhere: UInt64 = 0) throws(NodeError) -> StoredManifest {
        do {
            let stored = try store.manifest(of: identity)
            // Nil relays: keep what the stored manifest lists (only the running node knows them).
            let relays = relays ?? stored?.manifest.relays ?? []
            if let stored {
                let m = stored.manifest
                let projected = projectedManifest(seq: m.seq, now: m.ts, caps: caps, relays: relays)
                let unchanged = projected.name == m.name && projected.bio == m.bio && projected.interests == m.interests
                    && projected.model == m.model && projected.endpoints == m.endpoints && projected.caps == m.caps
                    && projected.net == m.net && projected.relays == m.relays
                if unchanged && m.exp > now + NodeContext.manifestRenewal && m.seq > heldElsewhere { return stored }
            }
            let previous = max(stored?.manifest.seq ?? 0, heldElsewhere)
            guard previous < UInt64(Int64.max) else { throw NodeError("the manifest seq is exhausted") }
            let seq = max(previous + 1, now)
            // Keep ts monotonic even if the clock stepped back.
            let ts = max(now, (stored?.manifest.ts ?? 0) + 1)
            let manifest = projectedManifest(seq: seq, now: ts, caps: caps, relays: relays)
            let object: SignedObject
            do { object = try manifest.signed(with: keys.signing) } catch {
                throw NodeError("cannot sign the manifest: \(error); shorten the fields in \(home.modelFile)")
            }
            _ = try store.storeManifest(object, manifest: manifest, receivedAt: now)
            guard let fresh = try store.manifest(of: identity) else { throw NodeError("the new manifest was not stored") }
            return fresh
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError("\(error)")
        }
    }
}
