public import KithCrypto
public import KithModel

/// The friend workflow as pure rules (`Protocol/transport.md`, connection records): requests,
/// answers by the person's `policy.connect`, acceptance, decline, unfriending. The driver reads
/// the pair's standing records from storage (``PairRecords``), calls one event, and performs the
/// returned ``FriendshipAction``s in order; the engine signs records but keeps no state.
public struct FriendshipEngine: Sendable {
    /// This node.
    public let me: Identity
    private let key: Ed25519.KeyPair
    /// The person's `policy.connect`.
    public var policy: IdentityModel.ConnectPolicy
    /// This node's current manifest, which goes with each request it sends (the requester shows
    /// who it is).
    public var manifest: SignedObject
    private let network: NetworkID

    /// Creates the rules for the node whose key is `key`, on `network`, with its current manifest.
    public init(key: Ed25519.KeyPair, network: NetworkID, policy: IdentityModel.ConnectPolicy, manifest: SignedObject) {
        self.key = key
        me = Identity(publicKey: key.publicKey)
        self.network = network
        self.policy = policy
        self.manifest = manifest
    }

    /// Each side's standing record for one pair, as stored.
    public struct PairRecords: Sendable {
        /// This node's standing record and its signed form.
        public var mine: (object: SignedObject, record: ConnectionRecord)?
        /// The peer's.
        public var theirs: (object: SignedObject, record: ConnectionRecord)?
        /// Creates the facts.
        public init(mine: (object: SignedObject, record: ConnectionRecord)?, theirs: (object: SignedObject, record: ConnectionRecord)?) {
            self.mine = mine
            self.theirs = theirs
        }
        /// Where the pair stands.
        public var relationship: Relationship { .from(mine: mine?.record, theirs: theirs?.record) }
    }

    /// What the engine asks the driver to do.
    public enum FriendshipAction: Sendable {
        /// Store a verified connection or revocation record (and let gossip carry it).
        case store(SignedObject, ConnectionRecord)
        /// Keep a requester's verified manifest, so the person sees who asks.
        case storeManifest(SignedObject, Manifest)
        /// Send a friend message to the peer.
        case send(to: Identity, FriendMessage)
        /// Tell whoever waits on `kith connect` how the peer answered.
        case answer(Identity, FriendReply)
        /// The two are friends now: start replicating with the peer.
        case startGossip(Identity)
        /// Forget the peer's request (the person declined it).
        case forgetRequest(from: Identity)
        /// Keep an introduction for the person to answer (`policy.connect: ask`).
        case holdIntroduction(Identity)
        /// For logs: what was decided, or why a message was ignored.
        case note(String)
    }

    // MARK: - Messages from the peer

    /// A friend message from `peer`, given the pair's stored records.
    public func receive(_ message: FriendMessage, from peer: Identity, pair: PairRecords, now: UInt64) -> [FriendshipAction] {
        switch message {
        case .request(let object, let manifestObject):
            guard let record = verified(object, from: peer, now: now), let manifest = peersManifest(manifestObject, from: peer, now: now)
            else { return [.note("ignoring an invalid friend request")] }
            // Only a request of this node's own that still stands, and is recent, answers theirs;
            // an older one is withdrawn first, so the two records can never read as friends.
            let alreadyMine = freshConsent(pair, now: now) != nil
            let retire = alreadyMine ? [] : retireOwnConnection(pair, with: peer)
            if policy == .never && !alreadyMine {
                return retire + [.note("declined a friend request (policy.connect: never)"), .send(to: peer, .decline)]
            }
            var actions: [FriendshipAction] = retire + [.storeManifest(manifestObject, manifest), .store(object, record)]
            if alreadyMine || policy == .auto {
                let (mine, signed) = myConnection(with: peer, pair: pair, now: now)
                actions += signed
                actions += [.note(alreadyMine ? "friends: mutual request" : "friends: policy.connect: auto"),
                            .send(to: peer, .accept(record: mine, manifest: self.manifest)), .startGossip(peer), .answer(peer, .accepted)]
            } else {
                actions += [.note("friend request waiting for `kith accept`"), .send(to: peer, .pending)]
            }
            return actions
        case .accept(let object, let manifestObject):
            guard let record = verified(object, from: peer, now: now), let manifest = peersManifest(manifestObject, from: peer, now: now)
            else { return [.note("ignoring an invalid friend acceptance")] }
            // Only an answer to this node's own, recent request completes a friendship.
            guard freshConsent(pair, now: now) != nil else { return [.note("ignoring an acceptance of a request this node did not make")] }
            return [.storeManifest(manifestObject, manifest), .store(object, record), .note("friend request accepted"), .startGossip(peer),
                    .answer(peer, .accepted)]
        case .pending:
            return [.answer(peer, .pending)]
        case .decline:
            // The declined request is withdrawn (signed), so it never counts as consent later.
            guard pair.relationship == .requested else { return [.answer(peer, .declined)] }
            return retireOwnConnection(pair, with: peer) + [.answer(peer, .declined)]
        }
    }

    /// A session with `peer` opened: a request still unanswered is sent again, so an acceptance
    /// made while this node was away reaches it.
    public func sessionOpened(with peer: Identity, pair: PairRecords, now: UInt64) -> [FriendshipAction] {
        guard pair.relationship == .requested, let mine = freshConsent(pair, now: now) else { return [] }
        return [.send(to: peer, .request(record: mine, manifest: manifest))]
    }

    // MARK: - The person's commands

    /// `kith connect`: this node's record for the pair (signed now if missing) and the request.
    public func request(_ peer: Identity, pair: PairRecords, now: UInt64) -> [FriendshipAction] {
        let (mine, signed) = myConnection(with: peer, pair: pair, now: now)
        return signed + [.send(to: peer, .request(record: mine, manifest: manifest))]
    }

    /// `kith accept`: completes a pending request, or (for an introduction the person holds)
    /// sends this node's request; nil when there is neither.
    public func accept(_ peer: Identity, pair: PairRecords, introduced: Bool, now: UInt64) -> [FriendshipAction]? {
        if pair.relationship == .pending {
            let (mine, signed) = myConnection(with: peer, pair: pair, now: now)
            return signed + [.send(to: peer, .accept(record: mine, manifest: manifest)), .startGossip(peer)]
        }
        guard introduced, pair.relationship != .friends else { return nil }
        return request(peer, pair: pair, now: now)
    }

    /// `kith decline`: forgets a pending request; nil when there is none.
    public func decline(_ peer: Identity, pair: PairRecords) -> [FriendshipAction]? {
        guard pair.relationship == .pending else { return nil }
        return [.forgetRequest(from: peer), .send(to: peer, .decline)]
    }

    /// `kith unfriend`: a signed revocation; nil when there is neither friendship nor request.
    public func unfriend(_ peer: Identity, pair: PairRecords, now: UInt64) -> [FriendshipAction]? {
        guard pair.relationship != .none else { return nil }
        let record = ConnectionRecord(signer: me, other: peer, ts: max(now, (pair.mine?.record.ts ?? 0) + 1), kind: .revocation)
        // Their old record is no consent to a friendship made again later: forget it here.
        return [.store(record.signed(with: key), record), .forgetRequest(from: peer)]
    }

    /// The two AIs agreed in a conversation that their people should connect. That is never a
    /// friendship by itself: `auto` sends this node's request (the peer's node answers by its own
    /// policy), `ask` holds an introduction for the person, `never` does nothing.
    public func proposalAccepted(with peer: Identity, pair: PairRecords, now: UInt64) -> [FriendshipAction] {
        guard pair.relationship != .friends else { return [] }
        switch policy {
        case .auto: return [.note("the AIs agreed to connect: requesting it (policy.connect: auto)")] + request(peer, pair: pair, now: now)
        case .ask: return [.note("the AIs agreed to connect: waiting for `kith accept`"), .holdIntroduction(peer)]
        case .never: return [.note("the AIs agreed to connect; policy.connect is never")]
        }
    }

    /// The peer revoked the friendship (`kith unfriend` on their side): this node withdraws its
    /// own connection record too, so a later request from either side needs new consent.
    public func peerRevoked(_ peer: Identity, pair: PairRecords) -> [FriendshipAction] {
        guard pair.theirs?.record.kind == .revocation else { return [] }
        return retireOwnConnection(pair, with: peer)
    }

    /// How long a record's time may lie ahead of this node's clock: 10 minutes.
    public static let maxClockSkew: UInt64 = 600_000

    /// A signed revocation of this node's standing connection record, just after it, if it has one.
    private func retireOwnConnection(_ pair: PairRecords, with peer: Identity) -> [FriendshipAction] {
        guard let mine = pair.mine?.record, mine.kind == .connection else { return [] }
        let revocation = ConnectionRecord(signer: me, other: peer, ts: mine.ts + 1, kind: .revocation)
        return [.store(revocation.signed(with: key), revocation)]
    }

    /// `peer`'s own valid manifest for this network, or nil.
    private func peersManifest(_ object: SignedObject, from peer: Identity, now: UInt64) -> Manifest? {
        guard let m = try? Manifest.verify(object, now: now), m.id == peer, m.net == network else { return nil }
        return m
    }

    /// How long this node's own unanswered request counts as its person's consent: 30 days.
    public static let consentLifetime: UInt64 = 30 * 86_400_000

    /// This node's standing connection record, when it is recent enough to be consent now.
    private func freshConsent(_ pair: PairRecords, now: UInt64) -> SignedObject? {
        guard let mine = pair.mine, mine.record.kind == .connection, mine.record.ts + Self.consentLifetime >= now else { return nil }
        return mine.object
    }

    // MARK: - Helpers

    /// This node's standing connection record for the pair, and the actions that store it when
    /// it had to be signed now.
    private func myConnection(with peer: Identity, pair: PairRecords, now: UInt64) -> (SignedObject, [FriendshipAction]) {
        if let mine = freshConsent(pair, now: now) { return (mine, []) }
        let record = ConnectionRecord(signer: me, other: peer, ts: max(now, (pair.mine?.record.ts ?? 0) + 1))
        let object = record.signed(with: key)
        return (object, [.store(object, record)])
    }

    /// The record if it verifies and is the peer's own, for this pair.
    private func verified(_ object: SignedObject, from peer: Identity, now: UInt64) -> ConnectionRecord? {
        guard let record = try? ConnectionRecord.verify(object), record.kind == .connection, record.by == peer, record.joins(me, peer),
              record.ts <= now + Self.maxClockSkew else { return nil }
        return record
    }
}

/// How a peer answered a friend request.
public enum FriendReply: String, Sendable, Hashable, Codable {
    /// They accepted: friends now.
    case accepted
    /// Queued for their person (`policy.connect: ask`).
    case pending
    /// Refused.
    case declined
}
