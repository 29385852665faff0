import Foundation
import KithCrypto
public import KithModel
import KithNet
public import KithPersona
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    /// Loads stored conversations: unfinished ones resume, completed ones are remembered.
    func loadConversations() throws(NodeError) {
        let summaries: [ConversationSummary]
        do { summaries = try context.store.conversations() } catch { throw NodeError("cannot read the stored conversations: \(error)") }
        conversations.engine.loadCompleted(summaries.filter { $0.state == ConversationLog.State.complete.rawValue }.compactMap { Hex.decode($0.id) })
        for summary in summaries where summary.state != ConversationLog.State.complete.rawValue {
            guard let id = Hex.decode(summary.id) else { continue }
            do {
                if let log = try context.store.loadConversation(id) { conversations.engine.load(log) }
            } catch {
                logger.error("cannot load a conversation; it stays paused", metadata: ["conv": "\(summary.id.prefix(12))", "error": "\(error)"])
            }
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
            continuation.yield(TalkEvent(.failed, conv: "", message: message))
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
            conn = try? await transport.dial(host: host, port: port, expected: peer)
            // Kept only once a handshake at this address proved the key.
            if conn != nil {
                try? context.store.addPeer(peer, endpoint: Endpoint(scheme: "tcp", host: host, port: port).description, at: clock.now())
            }
        } else {
            // A friend of a friend is reached through a mutual friend's introduction.
            conn = await dialAny(peer, introduce: true)
        }
        guard conn != nil else {
            return fail("cannot reach \(peer.did): give its address (DID@HOST:PORT), or ask a mutual friend to be online (an introduction passes addresses only when both people's policies allow it)")
        }
        let opened: (conv: [UInt8], actions: [ConversationAction])
        do { opened = try conversations.engine.open(to: peer, topic: topic, turns: turns, now: clock.now()) } catch { return fail("\(error)") }
        conversations.followers.begin(opened.conv, engine: engine, subscriber: continuation)
        await perform(opened.actions)
    }

    // MARK: - Messages

    func handleConversationMessage(_ conn: PeerConnection, _ message: ConversationMessage) async {
        let actions = conversations.engine.receive(message, from: conn.peer, now: clock.now(), standing: standing(of: conn.peer))
        await perform(actions)
    }

    /// What policy needs to know about `peer` when it opens a conversation; a failed read stays
    /// unknown (nil), which the engine refuses.
    func standing(of peer: Identity) -> PeerStanding {
        let isFriend: Bool?
        do { isFriend = try storedRelationship(with: peer) == .friends } catch {
            logger.error("cannot read the relationship; refusing", metadata: ["peer": "\(peer.did)", "error": "\(error)"])
            isFriend = nil
        }
        let today: Int?
        do { today = try context.store.conversationCount(since: clock.now() - 86_400_000) } catch {
            logger.error("cannot count today's conversations; refusing", metadata: ["error": "\(error)"])
            today = nil
        }
        return PeerStanding(isFriend: isFriend, hops: gossip.hops(to: peer), equivocating: gossip.equivocating.contains(peer),
                            conversationsToday: today)
    }

    /// Carries out what the conversation engine asked for, in order; stops at a failed persist.
    func perform(_ actions: [ConversationAction]) async {
        for action in actions {
            switch action {
            case .send(let to, let message):
                guard let conn = transport.connection(to: to) else { continue }
                do { try await conn.send(.conversation(message)) } catch {
                    logger.debug("conversation message not sent", metadata: ["peer": "\(conn)", "error": "\(error)"])
                }
            case .persistConversation(let log):
                do {
                    try context.store.insertConversation(log, me: identity, state: log.state.rawValue, at: clock.now())
                } catch {
                    return persistFailed(log.id, error)
                }
            case .persistEntry(let conv, let seq, let object, let manifest, let state):
                do { try context.store.appendEntry(conv: conv, seq: seq, object, manifest: manifest, state: state.rawValue, at: clock.now()) } catch {
                    return persistFailed(conv, error)
                }
            case .persistSeal(let conv, let by, let object, let state):
                do { try context.store.addSeal(conv: conv, by: by, object, state: state.rawValue, at: clock.now()) } catch {
                    return persistFailed(conv, error)
                }
            case .requestTurn(let conv):
                // In a task of its own: a slow model must not hold up every other peer's messages.
                Task { await self.takeTurn(conv) }
            case .report(let conv, let report):
                follow(conv, report)
            case .proposalAccepted(let conv, let peer):
                await followUpProposal(peer: peer, conv: conv)
            case .replayCompleted(let conv, let peer, let theirCount):
                do {
                    guard let log = try context.store.loadConversation(conv) else { continue }
                    await perform(conversations.engine.syncReply(to: peer, log: log, theirCount: theirCount))
                } catch {
                    logger.error("cannot read a completed conversation", metadata: ["conv": "\(Hex.encode(conv).prefix(12))", "error": "\(error)"])
                }
            }
        }
    }

    /// A write failed: nothing after it happens (no acknowledgement of what was not stored), the
    /// people following hear why, and the engine goes back to what storage holds (a stored
    /// conversation resumes with the next session).
    private func persistFailed(_ conv: [UInt8], _ error: any Error) {
        logger.error("cannot store a conversation record", metadata: ["conv": "\(Hex.encode(conv).prefix(12))", "error": "\(error)"])
        conversations.followers.broadcast(conv, TalkEvent(.failed, conv: Hex.encode(conv), message: "\(error)"))
        conversations.followers.end(conv)
        conversations.engine.restore(conv, from: try? context.store.loadConversation(conv))
    }

    /// Passes an engine report to the people following and to the log.
    private func follow(_ conv: [UInt8], _ report: ConversationReport) {
        let key = Hex.encode(conv)
        switch report {
        case .started(let topic):
            conversations.followers.broadcast(conv, TalkEvent(.started, conv: key, text: topic))
        case .opened(let peer, let topic):
            logger.info("conversation opened", metadata: ["peer": "\(peer.did)", "conv": "\(key.prefix(12))", "topic": "\(topic)"])
        case .entry(let entry):
            conversations.followers.broadcast(conv, TalkEvent(.entry, conv: key, seq: entry.seq, author: entry.author.did, kind: entry.kind.rawValue,
                                                text: entry.text))
        case .ended:
            conversations.followers.broadcast(conv, TalkEvent(.ended, conv: key))
        case .complete:
            conversations.followers.broadcast(conv, TalkEvent(.complete, conv: key))
            conversations.followers.end(conv)
        case .problem(let message):
            logger.notice("conversation", metadata: ["conv": "\(key.prefix(12))", "what": "\(message)"])
        case .failed(let message):
            conversations.followers.broadcast(conv, TalkEvent(.failed, conv: key, message: message))
            conversations.followers.end(conv)
        case .superseded(let winner):
            // Both AIs opened at once: the person follows the one conversation both keep.
            logger.info("both sides opened at once; following the peer's conversation", metadata: ["conv": "\(key.prefix(12))"])
            conversations.followers.move(from: conv, to: winner)
            let topic = conversations.engine.log(winner)?.header.topic ?? ""
            conversations.followers.broadcast(winner, TalkEvent(.started, conv: Hex.encode(winner), text: topic))
        }
    }

    /// On a new session: tell the peer how far each unfinished conversation with it got here.
    func resumeConversations(with peer: Identity) async {
        await perform(conversations.engine.peerConnected(peer, now: clock.now()))
    }

    /// Once a second: still conversations are synced again (``ConversationEngine/tick(now:)``).
    func tickConversations() async {
        await perform(conversations.engine.tick(now: clock.now()))
    }

    /// A session closed.
    func pauseConversations(with peer: Identity) {
        conversations.engine.peerDisconnected(peer)
    }

    // MARK: - Turns

    /// Asks this node's persona engine for its turn, passes it through the disclosure guard,
    /// and hands it to the conversation engine.
    func takeTurn(_ conv: [UInt8]) async {
        guard let log = conversations.engine.log(conv), let peer = conversations.engine.peer(of: conv) else { return }
        // Read at every turn: a peer unfriended mid-conversation hears no friends-only memory after.
        let info = peerInfo(peer, log: log)
        let turn: PersonaTurn
        let producer: ConversationEntry.Producer
        do {
            let engine = try conversations.followers.engine(conv) ?? EngineFactory.make(for: context.model, baseDirectory: context.home.path)
            conversations.followers.setEngine(engine, for: conv)
            let turnContext = turnContext(log, peer: peer, info: info)
            if engine.speaksForItself { conversations.followers.broadcast(conv, TalkEvent(.yourTurn, conv: Hex.encode(conv))) }
            // The disclosure guard sits between every AI engine and the wire (people speaking
            // for themselves decide what they say).
            let produced = try await engine.nextTurn(turnContext)
            // Guarded by the model and the relationship as they are now: a reload that made a
            // memory private, or an unfriend, while the engine worked counts for this turn.
            var current = turnContext
            current.peerIsFriend = relationship(with: peer) == .friends && turnContext.peerIsFriend
            let guarded = engine.speaksForItself ? (turn: produced, blocked: false)
                : DisclosureGuard(model: context.model, for: current).guardTurn(produced)
            if guarded.blocked {
                conversations.followers.guardBlocked += 1
                logger.notice("disclosure guard replaced a turn", metadata: ["conv": "\(Hex.encode(conv).prefix(12))"])
            }
            turn = guarded.turn
            producer = engine.producer
        } catch {
            return await perform(conversations.engine.turnFailed(conv, reason: "\(error)", now: clock.now()))
        }
        await perform(conversations.engine.turnProduced(conv, ProducedTurn(kind: turn.kind, text: turn.text, disclosed: disclosedHashes(turn), producer: producer),
                                                 now: clock.now()))
    }

    /// `kith close CONV`: ends an unfinished conversation now with a signed `close` by this node
    /// (allowed after either side's entry) and seals it; used when the other side went away.
    public func close(conversation id: [UInt8], reason: String) async -> TalkEvent {
        let key = Hex.encode(id)
        do { await perform(try conversations.engine.close(id, reason: reason, now: clock.now())) } catch {
            return TalkEvent(.failed, conv: key, message: error.message)
        }
        let complete = conversations.engine.log(id) == nil
        return TalkEvent(complete ? .complete : .ended, conv: key,
                         message: complete ? "closed and sealed by both" : "closed and sealed here; the other side seals when it returns")
    }

    // MARK: - Helpers

    /// What this node knows of `peer` for a turn: its manifest as stored, or else the newest one
    /// it brought into the conversation.
    func peerInfo(_ peer: Identity, log: ConversationLog?) -> PeerInfo {
        let carried = log?.manifests.filter { $0.manifest.id == peer }.max { $0.manifest.seq < $1.manifest.seq }?.manifest
        let peerManifest = (try? context.store.manifest(of: peer))?.manifest ?? carried
        return PeerInfo(name: peerManifest?.name, interests: peerManifest?.interests ?? [], isFriend: relationship(with: peer) == .friends)
    }

    func turnContext(_ log: ConversationLog, peer: Identity, info: PeerInfo) -> TurnContext {
        TurnContext(
            persona: context.model, memories: MemoryFilter.permitted(context.model, peerIsFriend: info.isFriend),
            peerName: info.name, peerInterests: info.interests, peerIsFriend: info.isFriend, topic: log.header.topic,
            transcript: log.entries.map { .init(mine: $0.entry.author == identity, kind: $0.entry.kind, text: $0.entry.text) },
            turnsLeft: max(0, Int(log.header.maxTurns) - log.entries.count))
    }

    /// The keyed hashes of the memories a turn drew on, each recorded in the memory ledger (so
    /// `kith disclosures` can name it after the memory is edited).
    func disclosedHashes(_ turn: PersonaTurn) -> [[UInt8]] {
        let hashed = turn.disclosed.map { (hash: MemoryFilter.hash($0, salt: context.keys.modelSalt), memory: $0) }
        do { try context.store.recordDisclosed(hashed, at: clock.now()) } catch {
            logger.warning("could not record the disclosed memories in the ledger", metadata: ["error": "\(error)"])
        }
        return hashed.map(\.hash)
    }
}
