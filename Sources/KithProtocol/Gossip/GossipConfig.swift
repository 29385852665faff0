/// Bounds and parameters of manifest gossip.
public struct GossipConfig: Sendable {
    /// Replication scope in hops (1–3): friends (1), friends of friends (2), one more (3).
    public var hops = 2
    /// Most manifests a node stores.
    public var maxManifests = 50_000
    /// Most connection/revocation records a node stores.
    public var maxRecords = 200_000
    /// Most entries in one digest message (larger digests are split).
    public var maxDigestEntries = 4_096
    /// Most identities or records asked for in one `want`.
    public var maxWant = 1_024
    /// Largest `items` message, encoded, in bytes (batches are split below it).
    public var maxItemsBytes = 60_000
    /// Sustained gossip messages per second accepted from one peer.
    public var ratePerSecond: Double = 50
    /// Burst of gossip messages accepted from one peer.
    public var burst: Double = 400

    /// The defaults.
    public init() {}
}
