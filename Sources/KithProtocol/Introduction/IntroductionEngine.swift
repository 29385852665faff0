public import KithModel

/// Introductions as a pure state machine: the mutual friend's side (pass a request on, wait for
/// the target's answer, hand each side the other's addresses only when both agreed), the
/// target's side (answer by the person's policy) and the requester's side (learn the addresses).
/// The driver supplies what it knows of friendships and performs the returned actions.
public struct IntroductionEngine: Sendable {
    /// This node.
    public let me: Identity

    /// What the driver knows when a message arrives.
    public struct Facts {
        /// Whether an identity is this node's friend; nil when storage cannot say (refused).
        public var isFriend: (Identity) -> Bool?
        /// A friend's addresses that it lets this node pass to friends of friends without asking
        /// (`policy.addresses: fof`), or nil.
        public var sharedAddresses: (Identity) -> [String]?
        /// Whether this node's person would meet `requester`, introduced by a friend.
        public var wouldMeet: (Identity) -> Bool
        /// This node's own addresses, for someone it agrees to meet.
        public var myEndpoints: [String]

        /// Creates the facts.
        public init(isFriend: @escaping (Identity) -> Bool?, sharedAddresses: @escaping (Identity) -> [String]?,
                    wouldMeet: @escaping (Identity) -> Bool, myEndpoints: [String]) {
            self.isFriend = isFriend
            self.sharedAddresses = sharedAddresses
            self.wouldMeet = wouldMeet
            self.myEndpoints = myEndpoints
        }
    }

    /// What the driver does.
    public enum Action: Sendable, Hashable {
        /// Send a message (an `offer` goes to a friend this node may have to dial first).
        case send(to: Identity, IntroductionMessage)
        /// A mutual friend said where `peer` is (`ok`), or that it will not happen.
        case learned(peer: Identity, ok: Bool, endpoints: [String], via: Identity)
        /// For logs.
        case note(String)
    }

    private struct Pair: Hashable {
        let requester: Identity
        let target: Identity
    }

    /// Introductions this node passed on, waiting for the target's answer.
    private var pending: [Pair: (endpoints: [String], at: UInt64)] = [:]
    /// Introductions this node asked for (target → the friend asked) and agreed to (requester →
    /// the friend who offered): only their answers are taken, so no friend can plant addresses
    /// for anyone this node did not ask about.
    private var asked: [Identity: (via: Identity, at: UInt64)] = [:]
    private var agreed: [Identity: (via: Identity, at: UInt64)] = [:]
    private var requests = RateLimiter<Identity>(ratePerSecond: 0.5, burst: 8)
    /// How long the target has to answer before the requester hears "no": 30 s.
    public static let answerTimeout: UInt64 = 30_000
    /// Most introductions waiting at once.
    public static let maxPending = 256

    /// Creates the engine for node `me`.
    public init(me: Identity) {
        self.me = me
    }

    /// Asks `friend` to introduce this node to `target`, passing `endpoints` on if `target` agrees.
    public mutating func request(_ target: Identity, via friend: Identity, endpoints: [String], now: UInt64) -> [Action] {
        let expired = expire(now)
        guard asked[target] != nil || asked.count < Self.maxPending else { return expired }
        asked[target] = (friend, now)
        return expired + [.send(to: friend, .request(peer: target, endpoints: endpoints))]
    }

    /// A message from `sender`.
    public mutating func receive(_ message: IntroductionMessage, from sender: Identity, facts: Facts, now: UInt64) -> [Action] {
        let expired = expire(now)
        return expired + handle(message, from: sender, facts: facts, now: now)
    }

    private mutating func handle(_ message: IntroductionMessage, from sender: Identity, facts: Facts, now: UInt64) -> [Action] {
        // Only friends take part in introductions with this node; anyone else is ignored.
        guard facts.isFriend(sender) == true else { return [.note("ignoring an introduction message from a non-friend")] }
        switch message {
        case .request(let target, let endpoints):
            guard requests.take(sender, now: now) else { return [.note("too many introduction requests")] }
            guard target != sender, target != me, facts.isFriend(target) == true else {
                return [.send(to: sender, .addresses(peer: target, ok: false, endpoints: []))]
            }
            if let shared = facts.sharedAddresses(target), !shared.isEmpty {
                return [.note("passing on the addresses of a friend who shares them with friends of friends"),
                        .send(to: sender, .addresses(peer: target, ok: true, endpoints: shared))]
            }
            let pair = Pair(requester: sender, target: target)
            guard pending[pair] != nil || pending.count < Self.maxPending else {
                return [.send(to: sender, .addresses(peer: target, ok: false, endpoints: []))]
            }
            pending[pair] = (endpoints, now)
            return [.send(to: target, .offer(peer: sender))]
        case .offer(let requester):
            let ok = requester != me && facts.wouldMeet(requester) && (agreed[requester] != nil || agreed.count < Self.maxPending)
            if ok { agreed[requester] = (sender, now) }
            return [.note(ok ? "agreeing to an introduction" : "declining an introduction"),
                    .send(to: sender, .reply(peer: requester, ok: ok, endpoints: ok ? facts.myEndpoints : []))]
        case .reply(let requester, let ok, let endpoints):
            guard let waiting = pending.removeValue(forKey: Pair(requester: requester, target: sender)) else {
                return [.note("ignoring an answer to no introduction")]
            }
            var actions: [Action] = [.send(to: requester, .addresses(peer: sender, ok: ok, endpoints: ok ? endpoints : []))]
            if ok { actions.append(.send(to: sender, .addresses(peer: requester, ok: true, endpoints: waiting.endpoints))) }
            return actions
        case .addresses(let peer, let ok, let endpoints):
            if asked[peer]?.via == sender {
                asked[peer] = nil
            } else if agreed[peer]?.via == sender, ok {
                agreed[peer] = nil
            } else {
                return [.note("ignoring addresses nobody asked this friend for")]
            }
            return [.learned(peer: peer, ok: ok, endpoints: ok ? endpoints : [], via: sender)]
        }
    }

    /// Time passed: requesters whose target never answered hear "no".
    public mutating func tick(now: UInt64) -> [Action] {
        expire(now)
    }

    private mutating func expire(_ now: UInt64) -> [Action] {
        // Answers come within the target's 30 s, plus the way back: twice that is plenty.
        asked = asked.filter { now < $0.value.at + 2 * Self.answerTimeout }
        agreed = agreed.filter { now < $0.value.at + 2 * Self.answerTimeout }
        var actions: [Action] = []
        for (pair, waiting) in pending where now >= waiting.at + Self.answerTimeout {
            pending[pair] = nil
            actions.append(.send(to: pair.requester, .addresses(peer: pair.target, ok: false, endpoints: [])))
        }
        return actions
    }
}
