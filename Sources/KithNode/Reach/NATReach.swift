import Foundation
import KithModel
import KithNet

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

    /// What the observations say about the listening port.
    struct Classification: Equatable {
        var reachability: NATReachability
        /// The public `HOST:PORT` others can dial or punch to: only when observers agree.
        var endpoint: String?
        /// The address seen when observers are too few to agree (offered in a punch, never published).
        var candidate: String?
    }

    /// Reachability of the listening port `listenPort`. Only connections that left from, or
    /// arrived at, the listening port count, and one observation per observer address (the
    /// latest). A majority decides, so one friend (lying, or on the node's own LAN) cannot
    /// outvote the others: `public` when more than half see the node at its own address;
    /// `behind-nat` when at least two, and more than half, see one `HOST:PORT`; `behind-symmetric-nat`
    /// when at least two see it elsewhere and no such majority agrees; otherwise `unknown`.
    func classify(listenPort: Int) -> Classification {
        var byAddress: [String: Observation] = [:]
        for o in byObserver.values.filter({ $0.localPort == listenPort }).sorted(by: { $0.at < $1.at }) { byAddress[o.observerHost] = o }
        let votes = Array(byAddress.values)
        guard !votes.isEmpty else { return Classification(reachability: .unknown) }
        let direct = votes.filter { $0.seenHost == $0.localHost && $0.seenPort == listenPort }
        if direct.count * 2 > votes.count, let first = direct.first {
            let at = Self.hostPort(first.seenHost, first.seenPort)
            return Classification(reachability: .public, endpoint: at, candidate: at)
        }
        let others = votes.filter { !($0.seenHost == $0.localHost && $0.seenPort == listenPort) }
        var counts: [String: Int] = [:]
        for o in others { counts[Self.hostPort(o.seenHost, o.seenPort), default: 0] += 1 }
        guard let (top, n) = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) else { return Classification(reachability: .unknown) }
        if n >= 2, n * 2 > votes.count { return Classification(reachability: .behindNAT, endpoint: top, candidate: top) }
        if others.count >= 2 { return Classification(reachability: .symmetricNAT) }
        return Classification(reachability: .unknown, candidate: top)
    }

    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// The node's side of NAT traversal: observations, relays offered by friends, punches.
struct NATReach {
    var observations = AddressObservations()
    var reachability: NATReachability = .unknown
    /// `HOST:PORT` friends see this node at, when a majority of at least two agree (or it is public).
    var observedEndpoint: String?
    /// The address one friend sees (too few to publish; offered in a punch only).
    var candidateEndpoint: String?
    /// Punches answered for peers that are not friends (a token bucket: one every 5 s, 8 at
    /// most at once) and when the last burst of dials went out (one a minute): opening relayed
    /// session after relayed session does not multiply what the node dials.
    var strangerPunches: (tokens: Double, at: ContinuousClock.Instant) = (8, .now)
    var lastBurst: ContinuousClock.Instant?
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
    /// By relay: circuits being joined, and the relayed sessions joined that may still be open.
    /// A joined session ends its join, so without these one relay's calls could pile up
    /// sessions (strangers' too) on connections this node dialled, until it cannot dial at all.
    var joiningVia: [Identity: Int] = [:]
    var joinedVia: [Identity: [PeerConnection]] = [:]
    /// Outcomes since start: sessions upgraded from relayed to direct, punches that failed.
    var punched = 0
    var punchFailed = 0

    static let maxJoining = 8
    /// Most sessions joined or being joined through one relay (an honest relay opens at most 4
    /// circuits to one friend).
    static let maxPerRelay = 8
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
