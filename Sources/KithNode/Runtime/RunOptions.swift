/// How `kith run` listens and what it advertises.
public struct RunOptions: Sendable {
    /// TCP listen host.
    public var listenHost = "127.0.0.1"
    /// TCP listen port (0 picks a free one).
    public var listenPort = 7400
    /// Host written into the manifest and invites; defaults to the listen host unless that is a
    /// wildcard address.
    public var advertiseHost: String?
    /// UDP bind address, when UDP is enabled.
    public var udpHost: String?
    /// UDP port.
    public var udpPort: Int?
    /// LAN discovery: periodic `announce` datagrams to ``lanTargets``.
    public var lan = false
    /// Where LAN announcements go (`host:port`), e.g. a broadcast address of a test namespace.
    public var lanTargets: [String] = []
    /// Replication scope of manifest gossip in hops (1–3).
    public var hops = 2
    /// How often friends that are not connected are redialled (seconds; backoff doubles to 5 min).
    public var redialInterval: Double = 10

    /// The defaults: TCP on 127.0.0.1:7400, no UDP.
    public init() {}

    /// The host other nodes should dial, or nil when it cannot be known.
    public var advertisedHost: String? {
        if let advertiseHost { return advertiseHost }
        return ["0.0.0.0", "::", "[::]"].contains(listenHost) ? nil : listenHost
    }
}
