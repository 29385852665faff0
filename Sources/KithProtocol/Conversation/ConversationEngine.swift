public import KithCrypto
public import KithModel

/// AI-to-AI conversations as a pure state machine (`Protocol/conversation.md`).
///
/// The engine holds the conversations this node has not completed, decides every rule — who
/// writes next, what a turn may be, what a peer's message may change, what this node's policy
/// refuses — and returns ``ConversationAction``s: messages to send, records to persist (always
/// before the acknowledgement that depends on them), turns to request from the persona engine,
/// reports for the people following. It signs with the node's key but never touches sockets,
/// storage or clocks: `now` comes in with every event.
public struct ConversationEngine {
    /// This node.
    public let me: Identity
    private let key: Ed25519.KeyPair
    private let network: NetworkID
    /// The person's conversation policy (`converse`, `max_turns`, `daily_conversations`).
    public var policy: IdentityModel.Policy
    /// This node's current signed manifest: its entries carry its model commitment, and it goes
    /// along with the first entry of each conversation that uses it.
    public private(set) var manifest: SignedObject
    /// The model commitment of ``manifest``.
    public private(set) var modelCommitment: [UInt8]
    /// What peers sent and how it went.
    public private(set) var counters = ConversationCounters()

    private struct Live {
        var log: ConversationLog
        let peer: Identity
        var turnRequested = false
        /// The highest seq the peer acknowledged storing.
        var ackedByPeer: UInt64 = 0
        /// When the conversation last moved (a message from the peer, or an entry of ours).
        var movedAt: UInt64 = 0
        /// How long it may stay still, with the peer connected, before this node syncs again.
        var patience = ConversationEngine.firstPatience
    }

    /// Peers with an open session (between ``peerConnected(_:now:)`` and ``peerDisconnected(_:)``).
    private var connectedPeers: Set<Identity> = []
    /// A still conversation is synced again after this long, then after twice as long, up to
    /// ``maxPatience``: messages lost inside a session (one dropped by a closing duplicate
    /// session, say) are recovered without waiting for the next session.
    static let firstPatience: UInt64 = 5_000
    static let maxPatience: UInt64 = 120_000

    private var live: [[UInt8]: Live] = [:]
    /// Conversations completed here (so a repeated open is a duplicate, and a sync is answered).
    private var completed: Set<[UInt8]> = []
    /// Per peer, for the current session: conversations this node asked the peer to send again
    /// (once each, so two nodes that lost a conversation cannot make replays multiply).
    private var askedResends: [Identity: Set<[UInt8]>] = [:]
    /// Syncs answered per peer: a replay can be large, so a peer gets a few a second at most.
    private var syncAnswers = RateLimiter<Identity>(ratePerSecond: 4, burst: 64)
    /// Refusals signed per peer (two signatures each): at most one a second after a burst.
    private var refusals = RateLimiter<Identity>(ratePerSecond: 1, burst: 16)
    /// Conversations refused lately (nothing of them is kept): their seals are ignored quietly.
    private var recentlyRefused = BoundedSet<[UInt8]>(capacity: 4_096)

    /// How close in time two openings' headers must be to count as crossing ("the same moment");
    /// an older unanswered opening simply waits for its peer: 30 s.
    static let crossingWindow: UInt64 = 30_000

    /// Longest conversation anyone may ask for.
    public static let maxTurnsLimit = 1000

    /// Creates an engine for the node whose key is `key` and whose current manifest is `manifest`.
    public init(key: Ed25519.KeyPair, network: NetworkID, policy: IdentityModel.Policy, manifest: SignedObject) {
        self.key = key
        me = Identity(publicKey: key.publicKey)
        self.network = network
        self.policy = policy
        self.manifest = manifest
        modelCommitment = Self.model(of: manifest)
    }

    /// Entries written from now on carry `manifest`'s model commitment (after `kith reload`).
    public mutating func use(manifest object: SignedObject) {
        manifest = object
        modelCommitment = Self.model(of: object)
    }

    /// The model commitment of this node's own manifest (a manifest that does not verify gives
    /// one no manifest matches, so entries fail loudly instead of claiming a wrong model).
    private static func model(of object: SignedObject) -> [UInt8] {
        (try? Manifest.verify(object))?.model ?? [UInt8](repeating: 0, count: 32)
    }

    // MARK: - Queries

    /// The log of an unfinished conversation.
    public func log(_ conv: [UInt8]) -> ConversationLog? { live[conv]?.log }

    /// The peer of an unfinished conversation.
    public func peer(of conv: [UInt8]) -> Identity? { live[conv]?.peer }

    /// Peers of unfinished conversations (the node keeps redialling them).
    public var unfinishedPeers: Set<Identity> { Set(live.values.filter { !$0.log.isComplete }.map(\.peer)) }

    /// For each unfinished conversation: the highest seq the peer is known to hold (it
    /// acknowledged it, or wrote it).
    public var acknowledged: [[UInt8]: UInt64] {
        live.mapValues { c in max(c.ackedByPeer, c.log.entries.last { $0.entry.author == c.peer }?.entry.seq ?? 0) }
    }

    // MARK: - Loading

    /// Adds a stored conversation: unfinished ones resume, completed ones are remembered.
    public mutating func load(_ log: ConversationLog) {
        if log.isComplete {
            completed.insert(log.id)
        } else {
            live[log.id] = Live(log: log, peer: log.other(than: me))
        }
    }

    /// Remembers the ids of conversations completed here, without their logs.
    public mutating func loadCompleted(_ ids: some Sequence<[UInt8]>) {
        completed.formUnion(ids)
    }

    /// After a persist failed: puts back the conversation as storage holds it (`nil`: not at all).
    public mutating func restore(_ conv: [UInt8], from stored: ConversationLog?) {
        live[conv] = nil
        completed.remove(conv)
        if let stored { load(stored) }
    }

    // MARK: - Events

    /// The person asked to talk to `peer`: signs the header and asks for the first turn.
    /// - Returns: the new conversation's id and what to do.
    public mutating func open(to peer: Identity, topic: String, turns: Int?, now: UInt64) throws(LogProblem) -> (conv: [UInt8], actions: [ConversationAction]) {
        guard peer != me else { throw LogProblem("header", "that is this node's own identity") }
        let maxTurns = UInt64(max(1, min(turns ?? policy.maxTurns, Self.maxTurnsLimit)))
        let header = ConversationHeader(from: me, to: peer, topic: Self.prefix(topic, bytes: ConversationHeader.maxTopic),
                                        ts: now, net: network, maxTurns: maxTurns).signed(with: key)
        let log = try ConversationLog(header: header)
        live[log.id] = Live(log: log, peer: peer, turnRequested: true, movedAt: now)
        return (log.id, [.report(conv: log.id, .started(topic: log.header.topic)), .requestTurn(conv: log.id)])
    }

    /// This node's persona engine produced its turn.
    public mutating func turnProduced(_ conv: [UInt8], _ turn: ProducedTurn, now: UInt64) -> [ConversationAction] {
        guard var c = live[conv], c.turnRequested else { return [] }
        c.turnRequested = false
        live[conv] = c
        guard c.log.nextAuthor == me else { return [] }
        if Self.isExpired(c.log, now: now) { return endExpired(conv, now: now) }
        var kind = turn.kind
        // The persona proposes; the rules decide what is allowed.
        if c.log.count == 0 {
            kind = kind == .close ? .close : .say
        } else {
            if c.log.onlyCloseAllowed { kind = .close }
            if (kind == .accept || kind == .decline) && c.log.entries.last?.entry.kind != .propose { kind = .say }
        }
        return write(conv, kind: kind, text: turn.text, disclosed: turn.disclosed, producer: turn.producer, now: now)
    }

    /// This node's persona engine could not answer: the conversation closes, saying why (one
    /// that has no entry yet is dropped).
    public mutating func turnFailed(_ conv: [UInt8], reason: String, now: UInt64) -> [ConversationAction] {
        if let c = live[conv], c.log.count == 0 {
            live[conv] = nil
            return [.report(conv: conv, .failed(reason))]
        }
        return turnProduced(conv, ProducedTurn(kind: .close, text: "My AI could not answer (\(reason)). Closing.", producer: .node), now: now)
    }

    /// `kith close`: ends an unfinished conversation now with this node's signed `close` (allowed
    /// after either side's entry) and seals it.
    public mutating func close(_ conv: [UInt8], reason: String, now: UInt64) throws(LogProblem) -> [ConversationAction] {
        guard let c = live[conv] else { throw LogProblem("log", "no unfinished conversation \(Hex.encode(conv).prefix(12)) on this node") }
        if c.log.isEnded { return sealIfNeeded(conv) }
        live[conv]?.turnRequested = false
        return write(conv, kind: .close, text: reason, disclosed: [], producer: .person, now: now)
    }

    /// This node's person ended the relationship with `peer` (`kith unfriend`): every unfinished
    /// conversation with it ends now with this node's signed `close` saying so, and is sealed.
    public mutating func endConversations(with peer: Identity, reason: String, now: UInt64) -> [ConversationAction] {
        var actions: [ConversationAction] = []
        for (id, c) in live where c.peer == peer && !c.log.isComplete {
            live[id]?.turnRequested = false
            actions += c.log.isEnded ? sealIfNeeded(id) : write(id, kind: .close, text: reason, disclosed: [], producer: .node, now: now)
        }
        return actions
    }

    /// A session with `peer` opened: tell it how far each unfinished conversation got here (and
    /// seal any that ended before this node could seal it, after a crash).
    public mutating func peerConnected(_ peer: Identity, now: UInt64) -> [ConversationAction] {
        askedResends[peer] = nil
        connectedPeers.insert(peer)
        for (id, c) in live where c.peer == peer {
            live[id]?.movedAt = now
            live[id]?.patience = Self.firstPatience
        }
        var actions: [ConversationAction] = []
        for c in live.values.filter({ $0.peer == peer && !$0.log.isComplete }).sorted(by: { $0.log.header.ts < $1.log.header.ts }) {
            if c.log.isEnded && c.log.seals[me] == nil { actions += sealIfNeeded(c.log.id) }
            if live[c.log.id] != nil || completed.contains(c.log.id) {
                actions.append(.send(to: peer, .sync(conv: c.log.id, count: UInt64(c.log.count))))
            }
        }
        return actions
    }

    /// The last session with `peer` closed.
    public mutating func peerDisconnected(_ peer: Identity) {
        askedResends[peer] = nil
        connectedPeers.remove(peer)
    }

    /// Time passed: a conversation that stayed still too long while its peer is connected (and
    /// that does not wait for this node's own persona) is synced again, with a growing delay.
    public mutating func tick(now: UInt64) -> [ConversationAction] {
        var actions: [ConversationAction] = []
        // Conversations past their lifetime end here: closed (by rule) and sealed, then let go.
        for (id, c) in live where Self.isExpired(c.log, now: now) { actions += endExpired(id, now: now) }
        for (id, c) in live where connectedPeers.contains(c.peer) && !c.log.isComplete && !c.turnRequested
            && now >= c.movedAt + c.patience {
            live[id]?.movedAt = now
            live[id]?.patience = min(c.patience * 2, Self.maxPatience)
            if c.log.nextAuthor == me && c.log.count > 0 {
                actions += requestTurn(id, now: now)  // this node's own turn, never asked for (after a restart)
            } else {
                actions.append(.send(to: c.peer, .sync(conv: id, count: UInt64(c.log.count))))
            }
        }
        return actions
    }

    /// A message from `peer`. `standing` is read only for a new conversation.
    public mutating func receive(_ message: ConversationMessage, from peer: Identity, now: UInt64,
                                 standing: @autoclosure () -> PeerStanding) -> [ConversationAction] {
        if let conv = message.conv, live[conv]?.peer == peer {
            live[conv]?.movedAt = now
            live[conv]?.patience = Self.firstPatience
        }
        switch message {
        case .open(let header, let entry, let manifest):
            return receiveOpen(header: header, entry: entry, manifest: manifest, from: peer, now: now, standing: standing())
        case .entry(let conv, let entry, let manifest): return receiveEntry(conv, entry, manifest: manifest, from: peer, now: now)
        case .ack(let conv, let seq):
            if let c = live[conv], c.peer == peer, seq <= UInt64(c.log.count) { live[conv]?.ackedByPeer = max(c.ackedByPeer, seq) }
            return []
        case .seal(let conv, let seal): return receiveSeal(conv, seal, from: peer)
        case .sync(let conv, let count): return receiveSync(conv, theirCount: count, from: peer, now: now)
        }
    }

    /// Counts a conversation message whose fields broke their definition.
    public mutating func receivedMalformed() {
        counters.malformed += 1
    }

    /// What to send a participant that holds `theirCount` entries of `log`: the open if it holds
    /// none, every later entry (each with the manifest it first brought), and this node's seal.
    public func syncReply(to peer: Identity, log: ConversationLog, theirCount: UInt64) -> [ConversationAction] {
        guard log.participants.contains(me), log.other(than: me) == peer, let first = log.entries.first else { return [] }
        var actions: [ConversationAction] = []
        var brought = Set<[UInt8]>()
        /// The manifest an entry brought: the one matching its model, at its author's first use.
        func manifest(for entry: ConversationEntry) -> SignedObject? {
            guard entry.version >= 2, brought.insert(entry.author.bytes + entry.model).inserted else { return nil }
            return log.manifest(of: entry.author, model: entry.model)
        }
        let firstManifest = manifest(for: first.entry)
        if theirCount == 0, let firstManifest {
            actions.append(.send(to: peer, .open(header: log.headerObject, entry: first.object, manifest: firstManifest)))
        }
        for (object, entry) in log.entries.dropFirst() {
            let attached = manifest(for: entry)
            guard entry.seq > theirCount else { continue }
            actions.append(.send(to: peer, .entry(conv: log.id, entry: object, manifest: attached)))
        }
        if let mine = log.seals[me] { actions.append(.send(to: peer, .seal(conv: log.id, seal: mine.object))) }
        return actions
    }

    // MARK: - Receiving

    private mutating func receiveOpen(header: SignedObject, entry: SignedObject, manifest: SignedObject, from peer: Identity, now: UInt64,
                                      standing: @autoclosure () -> PeerStanding) -> [ConversationAction] {
        var log: ConversationLog
        do {
            log = try ConversationLog(header: header)
            guard log.header.to == me, log.header.from == peer else { throw LogProblem("header", "not between this session's two identities") }
            guard log.header.net == network else { throw LogProblem("header", "another network") }
            guard ConversationLog.isNotBefore(now, log.header.ts, tolerance: ConversationLog.clockSkew) else {
                throw LogProblem("header", "dated in the future (more than 10 minutes ahead of this node's clock)")
            }
            guard log.header.ts >= ConversationLog.epoch, !Self.isExpired(log, now: now) else {
                throw LogProblem("header", "dated before 2025 or more than 30 days ago: nothing could follow it")
            }
            try Self.checkReceivedManifest(manifest, from: peer, now: now)
            try log.addManifest(manifest)
            try Self.checkReceivedEntry(entry, from: peer, now: now)
            try log.append(entry)
        } catch {
            counters.opensRefused += 1
            return [.report(conv: header.hash, .problem("refusing a conversation: \(error)"))]
        }
        guard live[log.id] == nil, !completed.contains(log.id) else {
            counters.duplicates += 1
            return []
        }
        // Both sides opened at the same moment: one conversation goes on, the same one on both
        // sides (the smaller id); the other ends at once with its responder's decline.
        var crossed: [ConversationAction] = []
        var crossing: String?
        // Decided on the two headers alone, so both sides decide the same way.
        if let own = live.values.first(where: { $0.peer == peer && $0.log.header.from == me && !$0.log.isEnded && $0.log.count <= 1
                                                && ConversationLog.isNotBefore($0.log.header.ts, log.header.ts, tolerance: Self.crossingWindow)
                                                && ConversationLog.isNotBefore(log.header.ts, $0.log.header.ts, tolerance: Self.crossingWindow) }) {
            if own.log.count == 0 {
                // Not even written yet: this node's opening simply gives way.
                live[own.log.id] = nil
                crossed.append(.report(conv: own.log.id, .superseded(by: log.id)))
            } else if own.log.id.lexicographicallyPrecedes(log.id) {
                crossing = "We both opened a conversation at the same moment; let's continue in the one I opened."
            } else {
                // The peer declines this node's opening when it arrives there; follow the peer's.
                crossed.append(.report(conv: own.log.id, .superseded(by: log.id)))
            }
        }
        // Policy first: the refusal is decided before anything is stored.
        if let refusal = crossing ?? refusalReason(log.header, standing: standing()), !log.isEnded {
            return crossed + refuse(log, from: peer, reason: refusal, now: now)
        }
        counters.opened += 1
        live[log.id] = Live(log: log, peer: peer, movedAt: now)
        var actions: [ConversationAction] = crossed + [
            .persistConversation(log),
            .send(to: peer, .ack(conv: log.id, seq: 1)),
            .report(conv: log.id, .opened(by: peer, topic: log.header.topic)),
            .report(conv: log.id, .entry(log.entries[0].entry)),
        ]
        if log.isEnded {
            actions += sealIfNeeded(log.id)
        } else {
            actions += requestTurn(log.id, now: now)
        }
        return actions
    }

    /// Refuses an open without keeping anything of it: a decline at seq 2 (a close when the turn
    /// limit leaves nothing else), written by the node and dated as the entry it answers, and this
    /// node's seal, both sent and forgotten. The same open refused again gives the same bytes, so a
    /// peer that lost them completes all the same; a refused open costs no storage and counts
    /// toward no daily limit, and refusals to one peer are rate-limited.
    private mutating func refuse(_ log: ConversationLog, from peer: Identity, reason: String, now: UInt64) -> [ConversationAction] {
        guard refusals.take(peer, now: now) else {
            counters.refusalsRateLimited += 1
            return []
        }
        counters.refused += 1
        var copy = log
        let decline = copy.makeEntry(key: key, kind: log.onlyCloseAllowed ? .close : .decline,
                                     text: Self.prefix(reason, bytes: ConversationEntry.maxText), model: ConversationLog.nodeModel,
                                     disclosed: [], ts: log.entries[0].entry.ts, producer: .node)
        do { try copy.append(decline, signatureChecked: true) } catch {
            return [.report(conv: log.id, .problem("cannot refuse: \(error)"))]
        }
        let seal = copy.makeSeal(key: key)
        recentlyRefused.insert(log.id)
        return [.report(conv: log.id, .problem("declined without keeping it: \(reason)")),
                .send(to: peer, .entry(conv: log.id, entry: decline, manifest: nil)),
                .send(to: peer, .seal(conv: log.id, seal: seal))]
    }

    /// Why this node's policy refuses a conversation, or nil. Unknown facts refuse.
    func refusalReason(_ header: ConversationHeader, standing: PeerStanding) -> String? {
        if standing.equivocating { return "I do not talk to identities that signed conflicting manifests." }
        switch policy.converse {
        case .friends:
            guard let isFriend = standing.isFriend else { return "I cannot check who you are to my person right now." }
            if !isFriend { return "My person only lets me talk with friends." }
        case .fof:
            guard let isFriend = standing.isFriend else { return "I cannot check who you are to my person right now." }
            if !isFriend && (standing.hops ?? .max) > 2 { return "My person only lets me talk with friends and friends of friends." }
        case .anyone:
            break
        }
        if header.maxTurns > UInt64(policy.maxTurns) { return "That is longer than my person allows (\(policy.maxTurns) turns)." }
        guard let today = standing.conversationsToday else { return "I cannot count today's conversations right now." }
        if today >= policy.dailyConversations { return "I have had enough conversations for today." }
        return nil
    }

    /// A manifest from `peer` that it brings into a conversation: its own, and valid now.
    private static func checkReceivedManifest(_ manifest: SignedObject, from peer: Identity, now: UInt64) throws(LogProblem) {
        let m: Manifest
        do { m = try Manifest.verify(manifest, now: now) } catch { throw LogProblem("manifest", "\(error)") }
        guard m.id == peer else { throw LogProblem("manifest", "not the peer's own") }
    }

    /// An entry from `peer`: its own, version 2 (who produced it is stated) and not dated in the
    /// future; the log checks the rest.
    private static func checkReceivedEntry(_ entry: SignedObject, from peer: Identity, now: UInt64) throws(LogProblem) {
        guard let e = try? ConversationEntry.decode(entry) else { return }  // the log reports why
        guard e.author == peer else { throw LogProblem("entry", "not written by this peer") }
        guard e.version >= 2 else { throw LogProblem("entry \(e.seq)", "version 1 (it does not say who produced it): the other node must update") }
        guard ConversationLog.isNotBefore(now, e.ts, tolerance: ConversationLog.clockSkew) else {
            throw LogProblem("entry \(e.seq)", "dated in the future (more than 10 minutes ahead of this node's clock)")
        }
    }

    private mutating func receiveEntry(_ conv: [UInt8], _ object: SignedObject, manifest: SignedObject?, from peer: Identity,
                                       now: UInt64) -> [ConversationAction] {
        guard var c = live[conv], c.peer == peer else {
            // Unknown or finished here: "I hold none", so the peer can send it again (once).
            counters.entriesForUnknownConversations += 1
            return askToResend(conv, from: peer)
        }
        let before = c.log.count
        var brought: SignedObject?
        do {
            if let manifest {
                try Self.checkReceivedManifest(manifest, from: peer, now: now)
                if try c.log.addManifest(manifest) { brought = manifest }
            }
            try Self.checkReceivedEntry(object, from: peer, now: now)
            try c.log.append(object)
        } catch {
            if let seq = (try? ConversationEntry.decode(object))?.seq, seq <= UInt64(before) {
                counters.duplicates += 1  // a resend we already hold
                return []
            }
            counters.entriesRefused += 1
            return [.report(conv: conv, .problem("refusing an entry: \(error)"))]
        }
        let entry = c.log.entries[before].entry
        live[conv] = c
        counters.entriesAccepted += 1
        var actions: [ConversationAction] = [
            .persistEntry(conv: conv, seq: entry.seq, object, manifest: brought, state: c.log.state),
            .send(to: peer, .ack(conv: conv, seq: entry.seq)),
            .report(conv: conv, .entry(entry)),
        ]
        if entry.kind == .accept, before >= 1, c.log.entries[before - 1].entry.kind == .propose, c.log.entries[before - 1].entry.author == me {
            actions.append(.proposalAccepted(conv: conv, with: peer))
        }
        actions += c.log.isEnded ? sealIfNeeded(conv) : requestTurn(conv, now: now)
        return actions
    }

    private mutating func receiveSeal(_ conv: [UInt8], _ object: SignedObject, from peer: Identity) -> [ConversationAction] {
        if live[conv] == nil && recentlyRefused.contains(conv) { return [] }  // the peer's seal over our refusal
        guard var c = live[conv], c.peer == peer else {
            counters.sealsRefused += 1
            return []
        }
        do {
            guard (try? ConversationSeal.verify(object))?.by == peer else { throw LogProblem("seal", "not signed by this peer") }
            try c.log.addSeal(object)
        } catch {
            counters.sealsRefused += 1
            return [.report(conv: conv, .problem("refusing a seal: \(error)"))]
        }
        live[conv] = c
        return [.persistSeal(conv: conv, by: peer, object, state: c.log.state)] + sealIfNeeded(conv)
    }

    private mutating func receiveSync(_ conv: [UInt8], theirCount: UInt64, from peer: Identity, now: UInt64) -> [ConversationAction] {
        guard syncAnswers.take(peer, now: now) else {
            counters.syncsRateLimited += 1
            return []
        }
        guard let c = live[conv] else {
            if completed.contains(conv) { return [.replayCompleted(conv: conv, to: peer, theirCount: theirCount)] }
            // Unknown here (its open was lost): "I hold none", so the peer sends it again. Never
            // in answer to a count of 0, so two nodes that both lack it cannot loop.
            return theirCount > 0 ? askToResend(conv, from: peer) : []
        }
        guard c.peer == peer else { return [] }
        return syncReply(to: peer, log: c.log, theirCount: theirCount) + (c.log.isEnded ? [] : requestTurn(conv, now: now))
    }

    /// Most conversations one peer can be asked to resend in one session.
    static let maxSyncsPerSession = 4_096

    private mutating func askToResend(_ conv: [UInt8], from peer: Identity) -> [ConversationAction] {
        guard askedResends[peer, default: []].count < Self.maxSyncsPerSession,
              askedResends[peer, default: []].insert(conv).inserted else { return [] }
        return [.send(to: peer, .sync(conv: conv, count: 0))]
    }

    // MARK: - Writing

    private mutating func requestTurn(_ conv: [UInt8], now: UInt64) -> [ConversationAction] {
        guard let c = live[conv], c.log.nextAuthor == me, !c.turnRequested else { return [] }
        // No model is asked to speak in a conversation past its lifetime: it ends instead.
        if Self.isExpired(c.log, now: now) { return endExpired(conv, now: now) }
        live[conv]?.turnRequested = true
        return [.requestTurn(conv: conv)]
    }

    /// Signs this node's next entry (bringing this node's manifest into the conversation with
    /// the first entry that uses it); it is persisted before it is sent.
    private mutating func write(_ conv: [UInt8], kind: ConversationEntry.Kind, text: String, disclosed: [[UInt8]],
                                producer: ConversationEntry.Producer, now: UInt64) -> [ConversationAction] {
        guard var c = live[conv], !c.log.isEnded else { return [] }
        if c.log.count == 0 && producer.kind == .node {
            // Nothing was said yet: the conversation is dropped, never opened.
            live[conv] = nil
            return [.report(conv: conv, .failed(text))]
        }
        var brought: SignedObject?
        do {
            // What the node writes by a rule names no model and brings no manifest: a stranger
            // refused by policy learns nothing of the person's profile.
            let byRule = producer.kind == .node
            if !byRule, c.log.manifest(of: me, model: modelCommitment) == nil, try c.log.addManifest(manifest) { brought = manifest }
            // An ending written after the lifetime is dated at its end (the last moment it counts).
            let ts = (kind == .close || kind == .decline) ? min(now, Self.lifetimeEnd(c.log)) : now
            let object = c.log.makeEntry(key: key, kind: kind, text: Self.prefix(text, bytes: ConversationEntry.maxText),
                                         model: byRule ? ConversationLog.nodeModel : modelCommitment,
                                         disclosed: byRule ? [] : Array(disclosed.prefix(ConversationEntry.maxDisclosed)),
                                         ts: ts, producer: producer)
            try c.log.append(object, signatureChecked: true)
        } catch {
            return [.report(conv: conv, .problem("\(error)"))]
        }
        let object = c.log.entries[c.log.count - 1].object
        c.movedAt = now
        live[conv] = c
        let entry = c.log.entries[c.log.count - 1].entry
        var actions: [ConversationAction]
        if entry.seq == 1 {
            guard let opening = c.log.manifest(of: me, model: entry.model) else {
                return [.report(conv: conv, .problem("a conversation opens with an entry that names this node's model"))]
            }
            actions = [.persistConversation(c.log), .report(conv: conv, .entry(entry)),
                       .send(to: c.peer, .open(header: c.log.headerObject, entry: object, manifest: opening))]
        } else {
            actions = [.persistEntry(conv: conv, seq: entry.seq, object, manifest: brought, state: c.log.state), .report(conv: conv, .entry(entry)),
                       .send(to: c.peer, .entry(conv: conv, entry: object, manifest: brought))]
        }
        if entry.kind == .accept { actions.append(.proposalAccepted(conv: conv, with: c.peer)) }
        if c.log.isEnded { actions += sealIfNeeded(conv) }
        return actions
    }

    /// The last moment an entry of `log` may be dated (the header's time plus the lifetime).
    static func lifetimeEnd(_ log: ConversationLog) -> UInt64 {
        log.header.ts > UInt64.max - ConversationLog.lifetime ? UInt64.max : log.header.ts + ConversationLog.lifetime
    }

    /// True once `log` is past its lifetime: nothing but an ending may be written.
    static func isExpired(_ log: ConversationLog, now: UInt64) -> Bool { now > lifetimeEnd(log) }

    /// Ends a conversation past its lifetime: a close by rule (dated at the lifetime's end) and
    /// this node's seal; then it is let go (no more syncs, turns or redials). One with nothing
    /// said is dropped.
    private mutating func endExpired(_ conv: [UInt8], now: UInt64) -> [ConversationAction] {
        guard let c = live[conv] else { return [] }
        live[conv]?.turnRequested = false
        var actions: [ConversationAction] = []
        if !c.log.isEnded {
            actions += write(conv, kind: .close, text: "This conversation ran past 30 days; closing.", disclosed: [], producer: .node, now: now)
        } else {
            actions += sealIfNeeded(conv)
        }
        if live[conv] != nil {
            live[conv] = nil
            actions.append(.report(conv: conv, .failed("the conversation ran past 30 days and was closed here")))
        }
        return actions
    }

    /// The longest prefix of `text` that fits in `bytes` of UTF-8 without splitting a character.
    static func prefix(_ text: String, bytes: Int) -> String {
        guard text.utf8.count > bytes else { return text }
        var out = "", used = 0
        for character in text {
            let size = character.utf8.count
            guard used + size <= bytes else { break }
            out.append(character)
            used += size
        }
        return out
    }

    /// Seals an ended conversation once; reports completion once both seals are held.
    private mutating func sealIfNeeded(_ conv: [UInt8]) -> [ConversationAction] {
        guard var c = live[conv], c.log.isEnded else { return [] }
        var actions: [ConversationAction] = []
        if c.log.seals[me] == nil {
            let seal = c.log.makeSeal(key: key)
            do { try c.log.addSeal(seal) } catch { return [.report(conv: conv, .problem("\(error)"))] }
            live[conv] = c
            actions += [.persistSeal(conv: conv, by: me, seal, state: c.log.state), .report(conv: conv, .ended),
                        .send(to: c.peer, .seal(conv: conv, seal: seal))]
        }
        if c.log.isComplete {
            live[conv] = nil
            completed.insert(conv)
            actions.append(.report(conv: conv, .complete))
        }
        return actions
    }
}
