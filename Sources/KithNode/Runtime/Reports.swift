/// What `kith run` prints once the node serves: `ready DID tcp://HOST:PORT` (one line, which
/// supervising processes and tests wait for).
public struct ReadyLine: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The node's did.
    public var id: String
    /// Where it listens, as `tcp://host:port` (the advertised host when there is one).
    public var listen: String
    /// The bound TCP port.
    public var port: Int

    public var description: String { "ready \(id) \(listen)" }
}

/// `kith status`.
public struct StatusReport: Sendable, Codable {
    /// The node's did.
    public var id: String
    /// Display name.
    public var name: String
    /// Network name.
    public var network: String
    /// `tcp://host:port` the node listens on.
    public var listen: String
    /// UDP address, if enabled.
    public var udp: String?
    /// Current manifest seq.
    public var manifestSeq: UInt64
    /// Identities with an open session.
    public var connected: Int
    /// Friends (both records held).
    public var friends: Int
    /// Requests waiting for `kith accept`.
    public var pendingRequests: Int
    /// Manifests stored.
    public var knownManifests: Int
    /// Seconds since start.
    public var uptimeSeconds: Int
    /// Transport counters.
    public var tcp: [String: Int]
    /// UDP counters.
    public var udpCounters: [String: Int]
    /// Gossip counters.
    public var gossip: [String: Int]
    /// Conversation protocol counters: opened, opens_refused, entries_accepted, entries_refused,
    /// duplicates, seals_refused, malformed, entries_for_unknown_conversations.
    public var conversations: [String: Int] = [:]
    /// Friend-request counters: `refused_at_capacity` (stranger requests ignored because too many
    /// were waiting, in all or from one network).
    public var requests: [String: Int] = [:]
    /// For each unfinished conversation (hex id): the highest seq the peer is known to hold.
    public var acknowledged: [String: UInt64]
    /// The Mainline DHT: mode, routing table, last publish and resolve, traffic.
    public var dht: DHTReport?
    /// NAT traversal: reachability as friends observe it, relays, punches.
    public var reach: ReachabilityReport?
}

/// One row of `kith peers`.
public struct PeerReport: Sendable, Codable {
    /// The peer's did.
    public var id: String
    /// Its name from its manifest, if known.
    public var name: String?
    /// `friends`, `requested`, `pending`, or `discovered` (seen on the LAN only).
    public var relationship: String
    /// Whether a session is open now.
    public var connected: Bool
    /// Last time a session was open, ms since the epoch.
    public var lastSeen: UInt64?
    /// Known addresses.
    public var addresses: [String]
    /// The open session: `direct`, or `relayed via HOST:PORT`; nil when not connected.
    public var session: String?
}

/// One row of `kith requests`: a friend request, or an introduction the AIs agreed on.
public struct RequestReport: Sendable, Codable {
    /// What waits for the person.
    public enum Kind: String, Sendable, Codable, Hashable {
        /// Their friend request (`kith accept` completes the friendship).
        case request
        /// Their AI and this person's agreed to connect (`kith accept` sends this node's request).
        case introduction
    }

    /// Who.
    public var id: String
    /// Their name, if their manifest is known.
    public var name: String?
    /// Their interests, if known.
    public var interests: [String]
    /// When it arrived, ms since the epoch.
    public var receivedAt: UInt64
    /// A request or an introduction.
    public var kind: Kind
    /// The conversation where the AIs agreed (hex), for an introduction.
    public var conversation: String?
    /// This node's assessment of the match (0…1), for an introduction.
    public var match: Double?
    /// Why.
    public var reasons: [String]
    /// What their AI said.
    public var excerpt: String?
}

/// The result of `kith connect`, `kith accept`, `kith decline` or `kith unfriend`.
public struct ConnectOutcome: Sendable, Codable, Equatable {
    /// What happened.
    public enum Outcome: String, Sendable, Codable, Hashable {
        /// Friends now.
        case accepted
        /// The request waits for the other person.
        case pending
        /// Refused, by the other side or by this person.
        case declined
        /// Nothing to do: already friends.
        case alreadyFriends = "already-friends"
        /// The friendship was revoked.
        case unfriended
        /// This node's request went out (accepting an introduction); the other person decides.
        case requested
        /// It did not work; `message` says what to do.
        case failed
    }

    /// What happened.
    public var outcome: Outcome
    /// The peer's did.
    public var id: String
    /// Its name, when known.
    public var name: String?
    /// A sentence for people.
    public var message: String

    /// Creates an outcome.
    public init(_ outcome: Outcome, id: String, name: String?, message: String) {
        self.outcome = outcome
        self.id = id
        self.name = name
        self.message = message
    }
}

/// A friend of a friend this node's AI would like to meet.
public struct Suggestion: Sendable, Codable {
    /// Their did.
    public var id: String
    /// Their name.
    public var name: String
    /// Interests both share.
    public var shared: [String]
    /// When it was suggested, ms.
    public var at: UInt64
}
