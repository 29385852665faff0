import Foundation
import KithModel

/// How other nodes can reach this one, as friends' observations tell (`Protocol/transport.md`,
/// observed addresses).
public enum NATReachability: String, Sendable, Codable {
    /// Fewer than two friends have said where they see this node.
    case unknown
    /// Friends see the node at its own address and listening port: no NAT in between.
    case `public`
    /// Behind a NAT that maps the listening port to one public address:port whoever the peer
    /// is (endpoint-independent): hole punching works.
    case behindNAT = "behind-nat"
    /// Behind a NAT that maps each peer to a different port (symmetric): reached through relays.
    case symmetricNAT = "behind-symmetric-nat"
}

/// What friends observed of this node's listening port, and what follows from it.
struct AddressObservations {
    struct Observation: Equatable {
        /// The friend's address (the observer).
        var observerHost: String
        /// Where the friend sees this node's connection come from.
        var seenHost: String
        var seenPort: Int
        /// This node's end of that connection.
        var localHost: String
        var localPort: Int
        var at: UInt64
    }

    private(set) var byObserver: [Identity: Observation] = [:]
    /// Most observers remembered (the oldest observation goes first).
    static let limit = 16

    mutating func record(_ observation: Observation, by friend: Identity) {
        byObserver[friend] = observation
        if byObserver.count > Self.limit, let oldest = byObserver.min(by: { $0.value.at < $1.value.at })?.key {
            byObserver[oldest] = nil
        }
    }

    /// Reachability of the listening port `listenPort`, and the public `HOST:PORT` others can
    /// dial or punch to (nil when symmetric or unknown). Only connections that left from, or
    /// arrived at, the listening port count; two observers on different addresses are needed
    /// to tell one mapping from a mapping per peer.
    func classify(listenPort: Int) -> (reachability: NATReachability, endpoint: String?) {
        let relevant = byObserver.values.filter { $0.localPort == listenPort }
        if let direct = relevant.first(where: { $0.seenHost == $0.localHost && $0.seenPort == listenPort }) {
            return (.public, Self.hostPort(direct.seenHost, direct.seenPort))
        }
        // One observation per observer address (two friends on one host see the same thing).
        var byAddress: [String: Observation] = [:]
        for o in relevant.sorted(by: { $0.at < $1.at }) { byAddress[o.observerHost] = o }
        let seen = Set(byAddress.values.map { Self.hostPort($0.seenHost, $0.seenPort) })
        guard byAddress.count >= 2 else { return (.unknown, seen.first) }
        return seen.count == 1 ? (.behindNAT, seen.first) : (.symmetricNAT, nil)
    }

    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The node's side of NAT traversal: observations, relays offered by friends, punches.
struct NATReach {
    var observations = AddressObservations()
    var reachability: NATReachability = .unknown
    /// `HOST:PORT` friends see this node at, when it is one for all of them (or the only one seen).
    var observedEndpoint: String?
    /// Friends that offered to relay (during their current session).
    var relayOffers: Set<Identity> = []
    /// Punches this node started over a relayed session, by peer: when it sent its `punch`.
    var punchesStarted: [Identity: ContinuousClock.Instant] = [:]
    /// Peers' punch endpoints heard on relayed sessions (to dial at the `punch-sync`).
    var punchEndpoints: [Identity: [String]] = [:]
    /// Relayed sessions (connection ids) whose `punch` was answered: one each, so a peer cannot
    /// make the node dial again and again.
    var punchAnswered: Set<UInt64> = []
    /// The relays the manifest should list, when they differ from the signed one (applied at
    /// most once a minute, so a flapping session does not re-sign the manifest again and again).
    var manifestRelays: [Identity]?
    var manifestSignedAt: ContinuousClock.Instant?
    /// Circuits being joined for relays now (bounded).
    var joining = 0
    /// Outcomes since start: sessions upgraded from relayed to direct, punches that failed.
    var punched = 0
    var punchFailed = 0

    static let maxJoining = 8
    /// Most back-to-back dials to one address in a punch while it answers with resets.
    static let burst = 200
}

/// `kith status`'s reachability part.
public struct ReachabilityReport: Sendable, Codable {
    /// `public`, `behind-nat`, `behind-symmetric-nat` or `unknown`.
    public var reachability: String
    /// Where friends see this node (`HOST:PORT`), when known.
    public var observed: String?
    /// How many friends' observations count.
    public var observers: Int
    /// Friends relaying for this node (`did:key:…@HOST:PORT`).
    public var relays: [String]
    /// Whether this node relays for its friends, and the circuits open now.
    public var relaying: Bool
    public var circuits: Int
    /// Sessions upgraded from relayed to direct by hole punching, and punches that failed.
    public var punched: Int
    public var punchFailed: Int
    /// Sessions open now that run through a relay.
    public var relayedSessions: Int
}
