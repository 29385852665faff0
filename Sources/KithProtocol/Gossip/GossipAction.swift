import KithCBOR
public import KithModel

/// What the gossip engine asks its driver to do.
public enum GossipAction: Sendable {
    /// Send a message to a connected peer.
    case send(to: Identity, GossipMessage)
    /// A verified manifest to store (new, or a higher seq).
    case storeManifest(SignedObject, Manifest)
    /// An identity signed two different manifests with the same seq.
    case equivocation(Identity)
    /// A verified connection or revocation record to store.
    case storeRecord(SignedObject, ConnectionRecord)
    /// A friend holds a manifest of this node's own with a higher seq than this node has (it was
    /// restored from an old backup): sign a new one above `seq`.
    case ownManifestBehind(seq: UInt64)
}

/// Counters of what gossip received, accepted and refused.
public struct GossipCounters: Sendable, Hashable, Codable {
    /// Manifests accepted (new or newer).
    public var manifestsAccepted = 0
    /// Manifests already known (same seq and bytes).
    public var duplicates = 0
    /// Manifests older than the one stored.
    public var stale = 0
    /// Manifests or records that failed verification (forged, malformed, expired, oversized).
    public var rejected = 0
    /// Manifests of identities outside the replication scope.
    public var outOfScope = 0
    /// Same seq, different bytes.
    public var equivocations = 0
    /// Records accepted.
    public var recordsAccepted = 0
    /// Messages dropped because the peer exceeded its rate.
    public var rateLimited = 0
    /// Messages that broke the gossip message format.
    public var malformedMessages = 0
    /// Items refused because a storage cap was reached.
    public var overCapacity = 0

    /// All zero.
    public init() {}
}

/// Memoises verification of identical signed objects (the simulator shares one across all
/// nodes so each unique object's signature is checked once). Not for use across trust domains.
public final class VerificationCache {
    var manifests: [[UInt8]: Manifest] = [:]
    var records: [[UInt8]: ConnectionRecord] = [:]
    /// An empty cache.
    public init() {}
}
