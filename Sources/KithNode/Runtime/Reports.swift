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
    /// For each unfinished conversation (hex id): the highest seq the peer is known to hold.
    public var acknowledged: [String: UInt64]
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
}

/// One row of `kith requests`.
public struct RequestReport: Sendable, Codable {
    /// Who asked.
    public var id: String
    /// Their name, if their manifest is known.
    public var name: String?
    /// Their interests, if known.
    public var interests: [String]
    /// When the request arrived, ms since the epoch.
    public var receivedAt: UInt64
}

/// The result of `kith connect`, `kith accept` or `kith decline`.
public struct ConnectOutcome: Sendable, Codable, Equatable {
    /// `accepted`, `pending`, `declined`, `already-friends` or `failed`.
    public var outcome: String
    /// The peer's did.
    public var id: String
    /// Its name, when known.
    public var name: String?
    /// A sentence for people.
    public var message: String
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
