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

    /// The Mainline DHT (`Protocol/dht.md`); nil turns it off.
    public var dht: DHTOptions?

    /// The defaults: TCP on 127.0.0.1:7400, no UDP, no DHT.
    public init() {}

    /// The host other nodes should dial, or nil when it cannot be known.
    public var advertisedHost: String? {
        if let advertiseHost { return advertiseHost }
        return ["0.0.0.0", "::", "[::]"].contains(listenHost) ? nil : listenHost
    }
}

/// How the node joins the Mainline DHT.
public struct DHTOptions: Sendable {
    /// UDP bind host of the DHT socket.
    public var host: String
    /// UDP port (0 picks a free one).
    public var port: Int
    /// `HOST:PORT` of nodes to join through (names are resolved at start).
    public var bootstrap: [String]
    /// BEP 43 read-only: ask, never answer (for a node others cannot reach).
    public var readOnly = false
    /// Turn read-only on by itself when two DHT nodes see this one behind a NAT that rewrites
    /// its port (they could not reach it unasked).
    public var autoReadOnly = true
    /// Seconds between two publications of an unchanged record (BEP 44 items expire after 2 h).
    public var republishInterval: Double = 3_600
    /// Seconds between two checks of the routing table and the record.
    public var maintenanceInterval: Double = 5
    /// The port was not chosen by the person: a busy one falls back to a free one.
    public var portIsDefault = false

    /// The well-known public routers of the Mainline DHT.
    public static let publicRouters = ["router.bittorrent.com:6881", "dht.transmissionbt.com:6881",
                                       "router.utorrent.com:6881", "dht.libtorrent.org:25401"]

    public init(host: String, port: Int, bootstrap: [String], readOnly: Bool = false) {
        self.host = host
        self.port = port
        self.bootstrap = bootstrap
        self.readOnly = readOnly
    }
}
