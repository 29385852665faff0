import KithCrypto
import KithDHT
import KithModel
import KithNet

/// What the node does with the Mainline DHT: the service, its own record key, what it last
/// published and resolved, and the `where-is` questions it asked friends.
struct DHTReach {
    var service: DHTService?
    var bound: (host: String, port: Int)?
    /// The addresses the node bootstraps from (resolved once at start).
    var bootstrap: [DHTAddress] = []
    /// This node's record key (its `friends` record; sent to friends, put in invites).
    var recordKey: SecretBytes?
    var lastPublish: DHTReport.Publish?
    var lastResolve: DHTReport.Resolve?
    /// What was last published (mode and endpoints): a change publishes again at once.
    var publishedFingerprint: String?
    /// A public record was published during this run (a switch away from `public` overwrites it).
    var publishedPublic = false
    /// When each peer was last looked up (at most one lookup per peer per ``resolveInterval``).
    var lastLookup: [Identity: UInt64] = [:]
    /// Relays the last lookup of each peer listed (`did:key:…@HOST:PORT`), bounded like ``lastLookup``.
    var relayHints: [Identity: [String]] = [:]
    /// `where-is` questions waiting for answers, by peer: the friends asked, and the first answer.
    var asked: [Identity: (friends: Set<Identity>, answer: [String])] = [:]

    /// Least time between two lookups of one peer, in ms.
    static let resolveInterval: UInt64 = 20_000
}

/// `kith status`'s DHT part, and what `kith resolve` prints.
public struct DHTReport: Sendable, Codable {
    /// `friends`, `public` or `off` (policy.dht), or `disabled` when the node runs with `--no-dht`.
    public var mode: String
    /// `HOST:PORT` of the DHT socket.
    public var listen: String?
    public var routingTable: Int
    public var storedForOthers: Int
    public var readOnly: Bool
    public var lastPublish: Publish?
    public var lastResolve: Resolve?
    /// Datagrams and bytes in and out since start.
    public var traffic: [String: Int]

    public struct Publish: Sendable, Codable {
        /// ms since the epoch.
        public var at: UInt64
        public var mode: String
        public var seq: Int64
        public var bytes: Int
        /// Nodes that confirmed storing it, of how many were asked.
        public var stored: Int
        public var asked: Int
    }

    public struct Resolve: Sendable, Codable {
        public var at: UInt64
        public var id: String
        /// Where the answer came from: `friends`, `dht-friends`, `dht-public`, or `none`.
        public var source: String
        public var endpoints: [String]
        public var milliseconds: Int
    }
}

/// What `kith resolve DID` found.
public struct ResolveReport: Sendable, Codable {
    public var id: String
    /// `friends` record (when this node holds that person's record key) and `public` record.
    public var friendsRecord: Record?
    public var publicRecord: Record?
    /// Lookups that answered.
    public var answered: Int
    public var message: String

    public struct Record: Sendable, Codable {
        public var seq: Int64
        public var tcp: [String]
        public var udp: [String]
        /// Relays that reach the node (`did:key:…@HOST:PORT`).
        public var relays: [String] = []
    }
}
