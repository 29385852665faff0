import Foundation
import KithCBOR
import KithCrypto
public import KithModel
import KithNet
public import KithPersona
import KithProtocol
import KithStore
import Logging

/// What `kith talk` shows as a conversation unfolds.
public struct TalkEvent: Sendable, Codable {
    /// `started`, `entry`, `ended`, `complete` or `failed`.
    public var event: String
    /// The conversation id (hex).
    public var conv: String
    /// For `entry`: its seq, author did, kind and text.
    public var seq: UInt64?
    public var author: String?
    public var kind: String?
    public var text: String?
    /// For `failed`: why.
    public var message: String?
}

/// What a turn context needs to know about the peer.
struct PeerInfo {
    var name: String?
    var interests: [String]
    var isFriend: Bool
}

/// A conversation this node takes part in, while the node runs.
struct LiveConversation {
    var log: ConversationLog
    var peer: Identity
    var turnInFlight = false
    /// The highest seq the peer acknowledged storing.
    var ackedByPeer: UInt64 = 0
    /// This node's engine for this conversation, made once.
    var engine: (any PersonaEngine)?
    /// What the engine may know of the peer, read once at the start.
    var peerInfo: PeerInfo?
    var subscribers: [UInt64: AsyncStream<TalkEvent>.Continuation] = [:]
}

extension NodeRuntime {
    static let conversationTypes: Set<String> = ["conv-open", "conv-entry", "conv-ack", "conv-seal", "conv-sync"]

    /// Loads conversations that are not complete, so they can resume.
    func loadOpenConversations() {
        for summary in (try? context.store.conversations()) ?? [] where summary.state != "complete" {
            guard let id = Hex.decode(summary.id), let log = try? context.store.loadConversation(id) else { continue }
            live[summary.id] = LiveConversation(log: log, peer: log.other(than: identity))
        }
    }

    // MARK: - Starting

    /// `kith talk`: opens a conversation with `peer` (dialling `host:port` when given) and streams
    /// its events until it is complete.
    public func talk(to peer: Identity, host: String?, port: Int?, topic: String, turns: Int?,
                     human: HumanTurns? = nil) async -> AsyncStream<TalkEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: TalkEvent.self)
        // The stream goes back to the caller at once; the conversation opens behind it (a person
        // typing the first turn needs to see the events already).
        Task { await self.open(to: peer, host: host, port: port, topic: topic, turns: turns, human: human, continuation: continuation) }
        return stream
    }

    private func open(to peer: Identity, host: String?, port: Int?, topic: String, turns: Int?, human: HumanTurns?,
                      continuation: AsyncStream<TalkEvent>.Continuation) async {
        func fail(_ message: String) {
            continuation.yield(TalkEvent(event: "failed", conv: "", message: message))
            continuation.finish()
        }
        guard peer != identity else { return fail("that is this node's own identity") }
        let engine: any PersonaEngine
        if let human {
            engine = HumanEngine(turns: human)
        } else {
            do { engine = try EngineFactory.make(for: context.model, baseDirectory: context.home.path) } catch { return fail("\(error)") }
        }
        let conn: PeerConnection?
        if let host, let port {
            try? context.store.addPeer(peer, endpoint: Endpoint(scheme: "tcp", host: host, port: port).description, at: Clock.nowMillis())
            conn = try? await transport.dial(host: host, port: port, expected: peer)
        } else {
            conn = await dialAny(peer)
        }
        guard let conn else { return fail("cannot reach \(peer.did): give its address (DID@HOST:PORT) or check that its node runs") }
        let maxTurns = UInt64(max(1, min(turns ?? context.model.policy.maxTurns, 1000)))
        let headerObject = ConversationHeader(from: identity, to: peer, topic: topic, ts: Clock.nowMillis(), net: context.record.networkID,
                                              maxTurns: maxTurns).signed(with: context.keys.signing)
        var log: ConversationLog
        do { log = try ConversationLog(header: headerObject) } catch { return fail("\(error)") }
        let turn: PersonaTurn
        if human != nil { continuation.yield(TalkEvent(event: "your-turn", conv: "")) }
        do { turn = try await engine.nextTurn(turnContext(log, peer: peer)) } catch { return fail("\(error)") }
        let kind: ConversationEntry.Kind = turn.kind == .close ? .close : .say
        let first = log.makeEntry(key: context.keys.signing, kind: kind, text: turn.text, model: manifest.manifest.model,
                                  disclosed: disclosedHashes(turn), ts: Clock.nowMillis())
        do {
            try log.append(first)
            try context.store.insertConversation(log, me: identity, at: Clock.nowMillis())
            try context.store.appendEntry(conv: log.id, seq: 1, first, state: state(of: log), at: Clock.nowMillis())
        } catch {
            return fail("\(error)")
        }
        let key = Hex.encode(log.id)
        var liveConversation = LiveConversation(log: log, peer: peer)
        liveConversation.subscribers[0] = continuation
        liveConversation.engine = engine
        live[key] = liveConversation
        continuation.yield(TalkEvent(event: "started", conv: key, text: topic))
        emit(key, entry: log.entries[0].entry)
        do {
            try await conn.send(type: "conv-open", fields: ["header": headerObject.wireValue, "entry": first.wireValue])
        } catch {
            emitFailure(key, "the connection dropped: the conversation resumes when the node reconnects")
        }
        if log.isEnded { await sealIfNeeded(key) }
    }

    // MARK: - Messages

    func handleConversationMessage(_ conn: PeerConnection, type: String, body: CBOR) async {
        switch type {
        case "conv-open": await receiveOpen(conn, body: body)
        case "conv-entry": await receiveEntry(conn, body: body)
        case "conv-seal": await receiveSeal(conn, body: body)
        case "conv-sync": await receiveSync(conn, body: body)
        case "conv-ack":
            guard case .bytes(let conv)? = body["conv"], case .unsigned(let seq)? = body["seq"] else { return count("malformed") }
            let key = Hex.encode(conv)
            if let c = live[key], c.peer == conn.peer, seq <= UInt64(c.log.entries.count) {
                live[key]?.ackedByPeer = max(c.ackedByPeer, seq)
            }
        default: break
        }
    }

    /// Counts one protocol outcome for `kith status` (`conversations`).
    func count(_ outcome: String) {
        conversationCounters[outcome, default: 0] += 1
    }

    private func receiveOpen(_ conn: PeerConnection, body: CBOR) async {
        guard let headerWire = body["header"], let entryWire = body["entry"],
              let headerObject = try? SignedObject(wireValue: headerWire), let entryObject = try? SignedObject(wireValue: entryWire)
        else {
            count("malformed")
            return logger.notice("malformed conv-open", metadata: ["peer": "\(conn)"])
        }
        var log: ConversationLog
        do {
            log = try ConversationLog(header: headerObject)
            guard log.header.to == identity, log.header.from == conn.peer else { throw LogProblem("header", "not between this session's two identities") }
            guard log.header.net == context.record.networkID else { throw LogProblem("header", "another network") }
            try log.append(entryObject)
        } catch {
            count("opens_refused")
            return logger.notice("refusing a conversation", metadata: ["peer": "\(conn)", "why": "\(error)"])
        }
        let key = Hex.encode(log.id)
        if live[key] != nil || ((try? context.store.conversationRecords(log.id)) ?? nil) != nil { return count("duplicates") }
        let refusal = refusalReason(log.header, peer: conn.peer)
        do {
            try context.store.insertConversation(log, me: identity, at: Clock.nowMillis())
            try context.store.appendEntry(conv: log.id, seq: 1, entryObject, state: state(of: log), at: Clock.nowMillis())
        } catch {
            return logger.error("cannot store a conversation", metadata: ["error": "\(error)"])
        }
        live[key] = LiveConversation(log: log, peer: conn.peer)
        count("opened")
        try? await conn.send(type: "conv-ack", fields: ["conv": .bytes(log.id), "seq": 1])
        logger.info("conversation opened", metadata: ["peer": "\(conn.peer.did)", "conv": "\(key.prefix(12))", "topic": "\(log.header.topic)"])
        if let refusal, !log.isEnded {
            logger.notice("declining a conversation", metadata: ["peer": "\(conn.peer.did)", "why": "\(refusal)"])
            await write(key, kind: .decline, text: refusal, disclosed: [])
            return
        }
        if log.isEnded { await sealIfNeeded(key) } else { await takeTurn(key) }
    }

    /// Why this node's policy refuses a conversation, or nil.
    func refusalReason(_ header: ConversationHeader, peer: Identity) -> String? {
        let policy = context.model.policy
        if gossip.equivocating.contains(peer) { return "I do not talk to identities that signed conflicting manifests." }
        switch policy.converse {
        case .friends where relationship(with: peer) != .friends:
            return "My person only lets me talk with friends."
        case .fof:
            let hops = gossip.hops(to: peer)
            if relationship(with: peer) != .friends && (hops == nil || hops! > 2) {
                return "My person only lets me talk with friends and friends of friends."
            }
        default: break
        }
        if header.maxTurns > UInt64(policy.maxTurns) { return "That is longer than my person allows (\(policy.maxTurns) turns)." }
        let today = (try? context.store.conversationCount(since: Clock.nowMillis() - 86_400_000)) ?? 0
        if today > policy.dailyConversations { return "I have had enough conversations for today." }
        return nil
    }

    private func receiveEntry(_ conn: PeerConnection, body: CBOR) async {
        guard case .bytes(let conv)? = body["conv"], let wire = body["entry"], let object = try? SignedObject(wireValue: wire) else {
            return count("malformed")
        }
        let key = Hex.encode(conv)
        guard var conversation = live[key], conversation.peer == conn.peer else {
            // Unknown or finished here: offer what we have, so the peer can resend.
            count("entries_for_unknown_conversations")
            try? await conn.send(type: "conv-sync", fields: ["conv": .bytes(conv), "count": .unsigned(0)])
            return
        }
        let before = conversation.log.entries.count
        do {
            guard (try? ConversationEntry.decode(object))?.author == conn.peer else { throw LogProblem("entry", "not written by this peer") }
            try conversation.log.append(object)
        } catch {
            if let seq = (try? ConversationEntry.decode(object))?.seq, seq <= UInt64(before) { return count("duplicates") }  // a resend we already hold
            count("entries_refused")
            return logger.notice("refusing a conversation entry", metadata: ["peer": "\(conn)", "why": "\(error)"])
        }
        let entry = conversation.log.entries[before].entry
        do { try context.store.appendEntry(conv: conv, seq: entry.seq, object, state: state(of: conversation.log), at: Clock.nowMillis()) } catch {
            return logger.error("cannot store an entry", metadata: ["error": "\(error)"])
        }
        live[key] = conversation
        count("entries_accepted")
        try? await conn.send(type: "conv-ack", fields: ["conv": .bytes(conv), "seq": .unsigned(entry.seq)])
        emit(key, entry: entry)
        await followUpProposal(conversation.log, peer: conn.peer)
        if conversation.log.isEnded { await sealIfNeeded(key) } else { await takeTurn(key) }
    }

    private func receiveSeal(_ conn: PeerConnection, body: CBOR) async {
        guard case .bytes(let conv)? = body["conv"], let wire = body["seal"], let object = try? SignedObject(wireValue: wire) else {
            return count("malformed")
        }
        let key = Hex.encode(conv)
        guard var conversation = live[key], conversation.peer == conn.peer else { return count("seals_refused") }
        do {
            guard (try? ConversationSeal.verify(object))?.by == conn.peer else { throw LogProblem("seal", "not signed by this peer") }
            try conversation.log.addSeal(object)
            try context.store.addSeal(conv: conv, by: conn.peer, object, state: state(of: conversation.log), at: Clock.nowMillis())
        } catch {
            count("seals_refused")
            return logger.notice("refusing a seal", metadata: ["peer": "\(conn)", "why": "\(error)"])
        }
        live[key] = conversation
        await sealIfNeeded(key)
    }

    private func receiveSync(_ conn: PeerConnection, body: CBOR) async {
        guard case .bytes(let conv)? = body["conv"], case .unsigned(let theirCount)? = body["count"] else { return }
        let key = Hex.encode(conv)
        guard let conversation = live[key] ?? completedConversation(conv), conversation.peer == conn.peer else { return }
        let log = conversation.log
        if theirCount == 0 {
            try? await conn.send(type: "conv-open", fields: ["header": log.headerObject.wireValue, "entry": log.entries[0].object.wireValue])
        }
        for (object, entry) in log.entries where entry.seq > max(theirCount, 1) {
            try? await conn.send(type: "conv-entry", fields: ["conv": .bytes(conv), "entry": object.wireValue])
        }
        if let mine = log.seals[identity] {
            try? await conn.send(type: "conv-seal", fields: ["conv": .bytes(conv), "seal": mine.object.wireValue])
        }
        if live[key] != nil && !log.isEnded { await takeTurn(key) }
    }

    private func completedConversation(_ conv: [UInt8]) -> LiveConversation? {
        guard let log = try? context.store.loadConversation(conv) else { return nil }
        return LiveConversation(log: log, peer: log.other(than: identity))
    }

    /// On a new session: tell the peer how far each unfinished conversation with it got here.
    func resumeConversations(with peer: Identity) async {
        guard let conn = transport.connection(to: peer) else { return }
        for (_, conversation) in live where conversation.peer == peer && !conversation.log.isComplete {
            try? await conn.send(type: "conv-sync", fields: ["conv": .bytes(conversation.log.id),
                                                             "count": .unsigned(UInt64(conversation.log.entries.count))])
        }
    }

    // MARK: - Writing

    /// Asks the engine for this node's turn when it is this node's turn.
    func takeTurn(_ key: String) async {
        guard var conversation = live[key], conversation.log.nextAuthor == identity, !conversation.turnInFlight else { return }
        conversation.turnInFlight = true
        if conversation.peerInfo == nil { conversation.peerInfo = peerInfo(conversation.peer) }
        live[key] = conversation
        let log = conversation.log
        var turn: PersonaTurn
        do {
            let engine = try conversation.engine ?? EngineFactory.make(for: context.model, baseDirectory: context.home.path)
            live[key]?.engine = engine
            let turnContext = turnContext(log, peer: conversation.peer, info: conversation.peerInfo)
            if engine.speaksForItself { broadcast(key, TalkEvent(event: "your-turn", conv: key)) }
            turn = try await engine.nextTurn(turnContext)
            // The disclosure guard sits between every AI engine and the wire (people speaking
            // for themselves decide what they say).
            let guarded = engine.speaksForItself ? (turn: turn, blocked: 0)
                : await DisclosureGuard(model: context.model, peerIsFriend: conversation.peerInfo?.isFriend ?? false)
                    .guardTurn(turn) { try await engine.nextTurn(turnContext) }
            if guarded.blocked > 0 {
                guardBlocked += guarded.blocked
                logger.notice("disclosure guard rewrote a turn", metadata: ["conv": "\(key.prefix(12))"])
            }
            turn = guarded.turn
        } catch {
            turn = PersonaTurn(kind: .close, text: "My AI could not answer (\(error)). Closing.")
        }
        // The engine proposes; the log's rules decide what is allowed.
        let last = log.entries.last?.entry
        if log.onlyCloseAllowed { turn.kind = .close }
        if (turn.kind == .accept || turn.kind == .decline) && last?.kind != .propose { turn.kind = .say }
        live[key]?.turnInFlight = false
        await write(key, kind: turn.kind, text: turn.text, disclosed: disclosedHashes(turn))
    }

    /// Signs, stores durably, then sends this node's next entry.
    func write(_ key: String, kind: ConversationEntry.Kind, text: String, disclosed: [[UInt8]]) async {
        guard var conversation = live[key], !conversation.log.isEnded else { return }
        let object = conversation.log.makeEntry(key: context.keys.signing, kind: kind, text: String(text.utf8.prefix(ConversationEntry.maxText)) ?? "",
                                                model: manifest.manifest.model, disclosed: Array(disclosed.prefix(ConversationEntry.maxDisclosed)),
                                                ts: Clock.nowMillis())
        do {
            try conversation.log.append(object)
            let entry = conversation.log.entries.last!.entry
            try context.store.appendEntry(conv: conversation.log.id, seq: entry.seq, object, state: state(of: conversation.log), at: Clock.nowMillis())
            live[key] = conversation
            emit(key, entry: entry)
        } catch {
            return emitFailure(key, "\(error)")
        }
        if let conn = transport.connection(to: conversation.peer) {
            try? await conn.send(type: "conv-entry", fields: ["conv": .bytes(conversation.log.id), "entry": object.wireValue])
        }
        if conversation.log.isEnded { await sealIfNeeded(key) }
    }

    /// Seals an ended conversation once, and reports completion.
    func sealIfNeeded(_ key: String) async {
        guard var conversation = live[key], conversation.log.isEnded else { return }
        if conversation.log.seals[identity] == nil {
            let seal = conversation.log.makeSeal(key: context.keys.signing)
            do {
                try conversation.log.addSeal(seal)
                try context.store.addSeal(conv: conversation.log.id, by: identity, seal, state: state(of: conversation.log), at: Clock.nowMillis())
            } catch {
                return emitFailure(key, "\(error)")
            }
            live[key] = conversation
            broadcast(key, TalkEvent(event: "ended", conv: key))
            if let conn = transport.connection(to: conversation.peer) {
                try? await conn.send(type: "conv-seal", fields: ["conv": .bytes(conversation.log.id), "seal": seal.wireValue])
            }
        }
        if conversation.log.isComplete {
            broadcast(key, TalkEvent(event: "complete", conv: key))
            for (_, c) in conversation.subscribers { c.finish() }
            live[key] = nil
        }
    }

    /// `kith close CONV`: ends an unfinished conversation now with a signed `close` by this node
    /// (allowed after either side's entry) and seals it; used when the other side went away.
    public func close(conversation id: [UInt8], reason: String) async -> TalkEvent {
        let key = Hex.encode(id)
        guard let conversation = live[key] else {
            return TalkEvent(event: "failed", conv: key, message: "no unfinished conversation \(key.prefix(12)) on this node")
        }
        if !conversation.log.isEnded {
            await write(key, kind: .close, text: reason, disclosed: [])
        } else {
            await sealIfNeeded(key)
        }
        let state = live[key].map { self.state(of: $0.log) } ?? "complete"
        return TalkEvent(event: state == "complete" ? "complete" : "ended", conv: key,
                         message: state == "complete" ? "closed and sealed by both" : "closed and sealed here; the other side seals when it returns")
    }

    /// When the peer's AI accepted this node's proposal, the friendship is requested for real:
    /// the peer's node answers by its person's `policy.connect` (auto, ask → `kith requests`, never).
    func followUpProposal(_ log: ConversationLog, peer: Identity) async {
        guard let last = log.entries.last?.entry, last.kind == .accept, last.author == peer, log.entries.count >= 2,
              log.entries[log.entries.count - 2].entry.kind == .propose,
              log.entries[log.entries.count - 2].entry.author == identity,
              relationship(with: peer) != .friends, context.model.policy.connect != .never
        else { return }
        let mine = await ensureMyRecord(with: peer)
        logger.notice("proposal accepted in conversation: requesting the connection", metadata: ["peer": "\(peer.did)"])
        try? await transport.connection(to: peer)?.send(type: "friend-request", fields: ["record": mine.wireValue])
    }

    // MARK: - Helpers

    func state(of log: ConversationLog) -> String {
        log.isComplete ? "complete" : log.isEnded ? "ended" : "open"
    }

    func peerInfo(_ peer: Identity) -> PeerInfo {
        let peerManifest = (try? context.store.manifest(of: peer))?.manifest
        return PeerInfo(name: peerManifest?.name, interests: peerManifest?.interests ?? [], isFriend: relationship(with: peer) == .friends)
    }

    func turnContext(_ log: ConversationLog, peer: Identity, info: PeerInfo? = nil) -> TurnContext {
        let info = info ?? peerInfo(peer)
        return TurnContext(
            persona: context.model, memories: MemoryFilter.permitted(context.model, peerIsFriend: info.isFriend),
            peerName: info.name, peerInterests: info.interests, peerIsFriend: info.isFriend, topic: log.header.topic,
            transcript: log.entries.map { .init(mine: $0.entry.author == identity, kind: $0.entry.kind, text: $0.entry.text) },
            turnsLeft: max(0, Int(log.header.maxTurns) - log.entries.count))
    }

    func disclosedHashes(_ turn: PersonaTurn) -> [[UInt8]] {
        turn.disclosed.map { MemoryFilter.hash($0, salt: context.keys.modelSalt) }
    }

    func emit(_ key: String, entry: ConversationEntry) {
        broadcast(key, TalkEvent(event: "entry", conv: key, seq: entry.seq, author: entry.author.did, kind: entry.kind.rawValue, text: entry.text))
    }

    func emitFailure(_ key: String, _ message: String) {
        broadcast(key, TalkEvent(event: "failed", conv: key, message: message))
    }

    func broadcast(_ key: String, _ event: TalkEvent) {
        for (_, c) in live[key]?.subscribers ?? [:] { c.yield(event) }
    }
}
