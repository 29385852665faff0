import Foundation
import KithCrypto
import KithDHT
public import KithModel
import KithNet
import KithPersona
public import KithProtocol
import KithStore
import Logging

/// The driver of the ``FriendshipEngine``: reads the pair's records, performs the actions.
extension NodeRuntime {
    /// How long `kith connect` waits for the other node's answer.
    public static let replyTimeout: Duration = .seconds(10)

    /// The pair's standing records, as stored.
    func pairRecords(with peer: Identity) throws(StoreError) -> FriendshipEngine.PairRecords {
        let pair = try context.store.connections(involving: peer).filter { $0.record.joins(identity, peer) }
        let mine = pair.first { $0.record.by == identity }, theirs = pair.first { $0.record.by == peer }
        return .init(mine: mine.map { ($0.object, $0.record) }, theirs: theirs.map { ($0.object, $0.record) })
    }

    /// Where this node stands with `peer`; `.none` when storage cannot say (which grants nothing).
    public func relationship(with peer: Identity) -> Relationship {
        do { return try storedRelationship(with: peer) } catch {
            logger.error("cannot read the relationship; treating it as none", metadata: ["peer": "\(peer.did)", "error": "\(error)"])
            return .none
        }
    }

    /// Where this node stands with `peer`, from the stored connection records.
    func storedRelationship(with peer: Identity) throws(StoreError) -> Relationship {
        try pairRecords(with: peer).relationship
    }

    /// Where this node stands with everyone it holds a record with, from one read of its records
    /// (one query, however many requests are waiting).
    func relationships(_ records: [StoredConnection]) -> [Identity: Relationship] {
        var pairs: [Identity: (mine: ConnectionRecord?, theirs: ConnectionRecord?)] = [:]
        for stored in records where stored.record.a == identity || stored.record.b == identity {
            let other = stored.record.other(than: identity)
            if stored.record.by == identity { pairs[other, default: (nil, nil)].mine = stored.record } else { pairs[other, default: (nil, nil)].theirs = stored.record }
        }
        return pairs.mapValues { Relationship.from(mine: $0.mine, theirs: $0.theirs) }
    }

    /// Most stranger requests waiting for the person, in all and from one network (/24 or /64).
    static let maxPendingRequests = 1_000
    static let maxPendingRequestsPerNetwork = 16

    /// A friend message from a peer.
    func handleFriendMessage(_ conn: PeerConnection, _ message: FriendMessage) async {
        do {
            let pair = try pairRecords(with: conn.peer)
            let prefix = AddressPrefix.of(AddressPrefix.host(of: conn.remoteAddress))
            // A new request that would wait for the person: room for it is checked before
            // anything of it is stored (the total, and per network, so one host cannot fill it).
            if case .request = message, pair.theirs?.record.kind != .connection, friends.engine.policy == .ask,
               pair.relationship != .requested {
                let counts = try context.store.requestSourceCounts(prefix: prefix)
                guard counts.total < Self.maxPendingRequests, counts.fromPrefix < Self.maxPendingRequestsPerNetwork else {
                    friends.requestsRefusedAtCapacity += 1
                    return logger.debug("too many pending friend requests; ignoring one", metadata: ["peer": "\(conn)"])
                }
            }
            await perform(friends.engine.receive(message, from: conn.peer, pair: pair, now: clock.now()), about: conn.peer)
            if case .request = message, (try? storedRelationship(with: conn.peer)) == .pending {
                try context.store.noteRequestSource(conn.peer, prefix: prefix, at: clock.now())
            }
        } catch {
            logger.error("cannot read friendships; ignoring a friend message", metadata: ["peer": "\(conn)", "error": "\(error)"])
        }
    }

    /// Stranger requests older than the consent lifetime (30 days) that the person never
    /// answered are forgotten, with the requester's manifest.
    func expireRequests() {
        guard let old = try? context.store.requestSources(before: clock.now() &- FriendshipEngine.consentLifetime) else { return }
        for peer in old {
            if (try? storedRelationship(with: peer)) == .pending {
                try? context.store.deleteConnection(between: identity, and: peer, by: peer)
                if gossip.hops(to: peer) == nil { try? context.store.deleteManifest(of: peer) }
            }
            try? context.store.forgetRequestSource(peer)
        }
    }

    /// On a new session: re-send this node's unanswered request.
    func resumeFriendship(with peer: Identity) async {
        guard let pair = try? pairRecords(with: peer) else { return }
        await perform(friends.engine.sessionOpened(with: peer, pair: pair, now: clock.now()), about: peer)
    }

    /// Carries out the engine's actions in order; true when every message was sent.
    @discardableResult
    func perform(_ actions: [FriendshipEngine.FriendshipAction], about peer: Identity, introduction: Introduction? = nil) async -> Bool {
        var delivered = true
        for action in actions {
            switch action {
            case .store(let object, let record):
                do { _ = try context.store.storeConnection(object, record: record, receivedAt: clock.now()) } catch {
                    logger.error("cannot store a connection record", metadata: ["error": "\(error)"])
                    return false
                }
                await perform(gossip.publish(object, now: clock.now()))
            case .storeManifest(let object, let manifest):
                // The requester's own profile, so the person sees who asks.
                do { _ = try context.store.storeManifest(object, manifest: manifest, receivedAt: clock.now()) } catch {
                    logger.error("cannot store a requester's manifest", metadata: ["error": "\(error)"])
                }
            case .send(let to, let message):
                guard let conn = transport.connection(to: to) else { delivered = false; continue }
                do { try await conn.send(.friend(message)) } catch { delivered = false }
            case .answer(let from, let reply):
                // "Accepted" only once the stored records really read as friends.
                if reply == .accepted, (try? storedRelationship(with: from)) != .friends { continue }
                friends.replies.answer(from, with: reply)
            case .startGossip(let with):
                guard (try? storedRelationship(with: with)) == .friends else { continue }
                // Friends now: they learn the profile and where this node listens.
                await sendProfile(to: with)
                if transport.connection(to: with) != nil { await startGossip(with: with) }
            case .forgetRequest(let from):
                do { try context.store.deleteConnection(between: identity, and: from, by: from) } catch {
                    logger.error("cannot forget a request", metadata: ["error": "\(error)"])
                    return false
                }
            case .holdIntroduction:
                guard let introduction else { continue }
                do { try context.store.saveIntroduction(introduction) } catch {
                    logger.error("cannot keep an introduction", metadata: ["error": "\(error)"])
                    return false
                }
            case .note(let text):
                logger.notice("\(text)", metadata: ["peer": "\(peer.did)"])
            }
        }
        return delivered
    }

    // MARK: - The person's commands

    /// `kith connect DID@HOST:PORT`, or `kith connect DID[?dht=KEY]` by key alone (known
    /// addresses, then connected friends, then the DHT): dial, verify, send a friend request,
    /// wait for the answer.
    public func connect(to peer: Identity, host: String?, port: Int?, inviteKey: [UInt8]? = nil) async -> ConnectOutcome {
        func outcome(_ kind: ConnectOutcome.Outcome, _ message: String) -> ConnectOutcome {
            ConnectOutcome(kind, id: peer.did, name: name(of: peer), message: message)
        }
        guard peer != identity else { return outcome(.failed, "that is this node's own identity") }
        if let inviteKey {
            guard inviteKey.count == FriendsRecord.ReadKey.length else { return outcome(.failed, "the invite's dht= key is not 64 bytes of z-base-32; copy the whole invite") }
            // A friend's own key (from its sessions) is never replaced by an invite's.
            if relationship(with: peer) != .friends { try? context.store.setDHTRecordKey(inviteKey, of: peer, at: clock.now()) }
        }
        let conn: PeerConnection
        if let host, let port {
            do {
                conn = try await transport.dial(host: host, port: port, expected: peer)
            } catch {
                return outcome(.failed, "\(error). Check the address and that their node is running (`kith run`).")
            }
            // Kept only now that a handshake at this address proved the key.
            try? context.store.addPeer(peer, endpoint: Endpoint(scheme: "tcp", host: host, port: port).description, at: clock.now())
        } else if let known = transport.connection(to: peer), known.isActive {
            conn = known
        } else if let found = await dialKnown(peer) {
            conn = found
        } else if let found = await dialLocated(peer, force: true) {
            conn = found
        } else {
            let found = reach.lastResolve.flatMap { $0.id == peer.did && $0.source != "none" ? $0.source : nil }
            let how = reach.service == nil
                ? "this node runs with --no-dht, so only known addresses and friends were asked; use DID@HOST:PORT"
                : found != nil
                ? "their record was found (\(found ?? "")), but neither its addresses nor its relays answered; their node may be off, or its relays unreachable: try again later"
                : "no known address, no friend, and no DHT record reached them; if they publish only to friends, ask for their `kith invite` (it carries ?dht=…)"
            return outcome(.failed, "cannot find \(peer.did): \(how)")
        }
        for attempt in 0..<2 {
            let target = attempt == 0 ? conn : (await dialAny(peer) ?? conn)
            let pair: FriendshipEngine.PairRecords
            do { pair = try pairRecords(with: peer) } catch {
                return outcome(.failed, "cannot read this node's friendships (\(error)); check the disk holding \(context.home.path)")
            }
            if pair.relationship == .friends { return outcome(.alreadyFriends, "you are already friends") }
            friends.replies.expect(from: peer)
            guard await perform(friends.engine.request(peer, pair: pair, now: clock.now()), about: peer) else { continue }
            switch await waitForReply(from: peer) {
            case .accepted: return outcome(.accepted, "you are now friends")
            case .pending: return outcome(.pending, "request delivered; they decide with `kith accept` (their policy is ask)")
            case .declined: return outcome(.declined, "they declined (or their policy refuses new connections)")
            case nil:
                if relationship(with: peer) == .friends { return outcome(.accepted, "you are now friends") }
                if target.isActive { return outcome(.failed, "no answer within \(NodeRuntime.replyTimeout); your request stays open and is re-sent when you next connect") }
            }
        }
        return outcome(.failed, "the connection dropped before they answered; your request is re-sent when you next connect")
    }

    /// `kith requests`: friend requests waiting for the person, and introductions (connections
    /// the AIs agreed on) with the conversation, the match and an excerpt.
    public func requests() -> [RequestReport] {
        let records = (try? context.store.connections(involving: identity)) ?? []
        let introductions = (try? context.store.introductions()) ?? []
        let rels = relationships(records)
        var reports = records.filter { $0.record.by != identity && rels[$0.record.by] == .pending }.map { stored in
            report(for: stored.record.by, receivedAt: stored.receivedAt, introduction: introductions.first { $0.peer == stored.record.by })
        }
        for i in introductions where !reports.contains(where: { $0.id == i.peer.did }) && relationship(with: i.peer) != .friends {
            reports.append(report(for: i.peer, receivedAt: i.createdAt, introduction: i))
        }
        return reports
    }

    private func report(for peer: Identity, receivedAt: UInt64, introduction i: Introduction?) -> RequestReport {
        let m = try? context.store.manifest(of: peer)
        return RequestReport(id: peer.did, name: m?.manifest.name, interests: m?.manifest.interests ?? [], receivedAt: receivedAt,
                             kind: relationship(with: peer) == .pending ? .request : .introduction,
                             conversation: i.map { Hex.encode($0.conv) }, match: i?.match, reasons: i?.reasons ?? [], excerpt: i?.excerpt)
    }

    /// `kith accept DID`.
    public func accept(_ peer: Identity) async -> ConnectOutcome {
        let pair: FriendshipEngine.PairRecords, introduced: Bool
        do {
            pair = try pairRecords(with: peer)
            introduced = try context.store.introduction(with: peer) != nil
        } catch { return unreadable(peer, error) }
        guard let actions = friends.engine.accept(peer, pair: pair, introduced: introduced, now: clock.now()) else {
            return ConnectOutcome(.failed, id: peer.did, name: name(of: peer), message: "there is no pending request or introduction from \(peer.did)")
        }
        try? context.store.deleteIntroduction(with: peer)
        try? context.store.forgetRequestSource(peer)
        // The record is signed and kept whether or not the peer is reachable now; an unanswered
        // request is re-sent on the next session.
        let stores = actions.filter { if case .store = $0 { true } else { false } }
        guard await perform(stores, about: peer) else {
            return ConnectOutcome(.failed, id: peer.did, name: name(of: peer), message: "cannot store your answer; check the disk holding \(context.home.path)")
        }
        let rest = actions.filter { if case .store = $0 { false } else { true } }
        var delivered = false
        if await dialAny(peer) != nil { delivered = await perform(rest, about: peer) }
        guard pair.relationship == .pending else {
            // An introduction: this node's request went out; their person (or policy) answers.
            return ConnectOutcome(.requested, id: peer.did, name: name(of: peer),
                                  message: delivered ? "request sent; they decide by their policy (`kith requests` on their side)"
                                      : "request kept; it is sent when their node next connects")
        }
        return ConnectOutcome(.accepted, id: peer.did, name: name(of: peer),
                              message: delivered ? "you are now friends" : "you are now friends; they learn it when their node next connects")
    }

    /// `kith decline DID`.
    public func decline(_ peer: Identity) async -> ConnectOutcome {
        let pair: FriendshipEngine.PairRecords, introduced: Bool
        do {
            pair = try pairRecords(with: peer)
            introduced = try context.store.introduction(with: peer) != nil
            try context.store.deleteIntroduction(with: peer)
        } catch { return unreadable(peer, error) }
        guard let actions = friends.engine.decline(peer, pair: pair) else {
            if introduced { return ConnectOutcome(.declined, id: peer.did, name: name(of: peer), message: "introduction declined") }
            return ConnectOutcome(.failed, id: peer.did, name: name(of: peer), message: "there is no pending request or introduction from \(peer.did)")
        }
        await perform(actions, about: peer)
        try? context.store.forgetRequestSource(peer)
        if gossip.hops(to: peer) == nil { try? context.store.deleteManifest(of: peer) }
        return ConnectOutcome(.declined, id: peer.did, name: name(of: peer), message: "request declined")
    }

    /// `kith unfriend DID`: signs a revocation, which gossip carries to everyone who knew of the
    /// friendship, and stops replicating with that peer.
    public func unfriend(_ peer: Identity) async -> ConnectOutcome {
        let peerName = name(of: peer)
        let pair: FriendshipEngine.PairRecords
        do { pair = try pairRecords(with: peer) } catch { return unreadable(peer, error) }
        guard let actions = friends.engine.unfriend(peer, pair: pair, now: clock.now()) else {
            return ConnectOutcome(.failed, id: peer.did, name: peerName, message: "you have no friendship or request with \(peer.did)")
        }
        await perform(actions, about: peer)
        gossip.peerDisconnected(peer)
        try? context.store.forgetAdvertisedAddresses(of: peer)
        try? context.store.forgetDHTRecordKey(of: peer)
        // At once: conversations with them end with a signed close; the session closes 0.3 s
        // later (time for their seal to come back, so nothing needs redialling).
        await perform(conversations.engine.endConversations(with: peer, reason: "My person ended our connection. Goodbye.", now: clock.now()))
        if let conn = transport.connection(to: peer) {
            Task {
                try? await Task.sleep(for: .milliseconds(300))
                conn.close()
            }
        }
        // A new DHT record key now; the puts (seconds) without holding the answer up.
        if let old = changeRecordKeyAfterUnfriending() {
            Task { [weak self] in await self?.publishAfterRecordKeyChange(emptying: old) }
        }
        return ConnectOutcome(.unfriended, id: peer.did, name: peerName, message: "friendship revoked; your friends' nodes will learn it")
    }

    /// The two AIs agreed that their people should connect: this person's `policy.connect`
    /// decides (auto requests it, ask keeps an introduction for `kith requests`, never ignores it).
    func followUpProposal(peer: Identity, conv: [UInt8]) async {
        guard let pair = try? pairRecords(with: peer) else { return }
        let actions = friends.engine.proposalAccepted(with: peer, pair: pair, now: clock.now())
        var introduction: Introduction?
        if actions.contains(where: { if case .holdIntroduction = $0 { true } else { false } }) {
            introduction = self.introduction(with: peer, conv: conv)
        }
        await perform(actions, about: peer, introduction: introduction)
    }

    /// What the person sees to decide: this node's assessment of the match and what the other
    /// side's AI said.
    private func introduction(with peer: Identity, conv: [UInt8]) -> Introduction {
        let log = conversations.engine.log(conv) ?? (try? context.store.loadConversation(conv)) ?? nil
        var assessment = Assessment(score: 0, reasons: [])
        var excerpt = ""
        if let log {
            assessment = Assessment.embedded(turnContext(log, peer: peer, info: peerInfo(peer, log: log)))
            excerpt = String(log.entries.first { $0.entry.author == peer && $0.entry.kind == .say }?.entry.text.prefix(280) ?? "")
        }
        return Introduction(peer: peer, conv: conv, match: assessment.score, reasons: assessment.reasons, excerpt: excerpt, createdAt: clock.now())
    }

    /// The answer when the pair's records cannot be read: nothing is decided on a guess.
    private func unreadable(_ peer: Identity, _ error: StoreError) -> ConnectOutcome {
        logger.error("cannot read friendships", metadata: ["peer": "\(peer.did)", "error": "\(error)"])
        return ConnectOutcome(.failed, id: peer.did, name: name(of: peer),
                              message: "cannot read this node's friendships (\(error)); check the disk holding \(context.home.path) and retry")
    }

    // MARK: - Waiting for answers

    /// Waits (at most ``replyTimeout``) for `peer`'s answer to a friend request; call
    /// `friends.replies.expect(from:)` before sending it.
    func waitForReply(from peer: Identity) async -> FriendReply? {
        if let early = friends.replies.takeEarly(from: peer) { return early }
        let token = friends.replies.upcomingToken
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: NodeRuntime.replyTimeout)
            await self?.timeOutReply(peer, token: token)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            _ = friends.replies.add(continuation, for: peer)
        }
    }

    private func timeOutReply(_ peer: Identity, token: UInt64) {
        friends.replies.resolve(peer, token: token, with: nil)
    }
}
