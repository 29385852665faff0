import KithCBOR
public import KithCrypto
public import KithModel
public import KithProtocol

/// Two ``ConversationEngine``s pumped against each other with no sockets and no database:
/// messages cross through the wire encoding and the strict decoder, persists go to an in-memory
/// store per side (which checks that every stored record extends a valid log), and each side's
/// persona is a closure.
public struct ConversationPair {
    public static let now: UInt64 = 1_800_000_000_000

    /// One side: its engine, what it stored, how it speaks.
    public struct Side {
        public var key: Ed25519.KeyPair
        /// Its key and the manifest its entries point to.
        public var speaker: Speaker
        public var engine: ConversationEngine
        /// The conversations as persisted, rebuilt through ``ConversationLog``'s rules.
        public var stored: [[UInt8]: ConversationLog] = [:]
        /// What policy learns about the other side when it opens a conversation.
        public var standing = PeerStanding(isFriend: true, hops: 1, equivocating: false, conversationsToday: 0)
        /// The persona: the next turn given the log so far.
        public var persona: @Sendable (ConversationLog) -> ProducedTurn = { log in
            ProducedTurn(kind: log.count >= 4 ? .close : .say, text: "turn \(log.count + 1)", producer: .ai(engine: "test"))
        }
        /// Every action in the order the engine returned it.
        public var actions: [ConversationAction] = []
        public var identity: Identity { engine.me }
        /// Turns requested and not yet answered.
        var pendingTurns: [[UInt8]] = []

        init(policy: IdentityModel.Policy) {
            speaker = Speaker()
            key = speaker.key
            engine = ConversationEngine(key: key, network: .main, policy: policy, manifest: speaker.manifest)
        }

        /// A fresh engine that knows only what this side stored (a restart).
        public mutating func restart() {
            engine = ConversationEngine(key: key, network: .main, policy: engine.policy, manifest: engine.manifest)
            for log in stored.values { engine.load(log) }
            pendingTurns = []
        }
    }

    public var sides: [Side]
    /// Whether messages reach the other side (false: they are lost, as when a session drops).
    public var connected = true
    public private(set) var clock = ConversationPair.now
    /// Messages in flight: (from side, message).
    var inFlight: [(Int, ConversationMessage)] = []

    public init(policy: IdentityModel.Policy = IdentityModel.Policy()) {
        var policy = policy
        policy.maxTurns = 50
        sides = [Side(policy: policy), Side(policy: policy)]
    }

    public var a: Side { sides[0] }
    public var b: Side { sides[1] }

    /// Side `i` opens a conversation with the other side.
    @discardableResult
    public mutating func open(from i: Int, topic: String = "poetry", turns: Int? = nil) throws -> [UInt8] {
        let opened = try sides[i].engine.open(to: sides[1 - i].identity, topic: topic, turns: turns, now: tick())
        perform(opened.actions, side: i)
        return opened.conv
    }

    /// Feeds an event's actions through side `i`.
    public mutating func perform(_ actions: [ConversationAction], side i: Int) {
        sides[i].actions += actions
        for action in actions {
            switch action {
            case .send(let to, let message):
                precondition(to == sides[1 - i].identity, "sent to a third party")
                if connected { inFlight.append((i, message)) }
            case .persistConversation(let log):
                precondition(sides[i].stored[log.id] == nil, "a conversation persisted twice")
                var copy = try! ConversationLog(header: log.headerObject)
                for (manifest, _) in log.manifests { try! copy.addManifest(manifest) }
                try! copy.append(log.entries[0].object)
                sides[i].stored[log.id] = copy
            case .persistEntry(let conv, let seq, let object, let manifest, let state):
                precondition(sides[i].stored[conv]?.nextSeq == seq, "an entry persisted out of order")
                if let manifest { try! sides[i].stored[conv]!.addManifest(manifest) }
                try! sides[i].stored[conv]!.append(object)
                precondition(sides[i].stored[conv]!.state == state)
            case .persistSeal(let conv, _, let object, let state):
                try! sides[i].stored[conv]!.addSeal(object)
                precondition(sides[i].stored[conv]!.state == state)
            case .requestTurn(let conv):
                sides[i].pendingTurns.append(conv)
            case .replayCompleted(let conv, let to, let count):
                perform(sides[i].engine.syncReply(to: to, log: sides[i].stored[conv]!, theirCount: count), side: i)
            case .report, .proposalAccepted:
                break
            }
        }
    }

    /// Delivers messages and answers turn requests until nothing is left (bounded).
    @discardableResult
    public mutating func run(maxSteps: Int = 10_000) -> Int {
        var steps = 0
        while steps < maxSteps {
            steps += 1
            if !inFlight.isEmpty {
                let (from, message) = inFlight.removeFirst()
                let to = 1 - from
                // Through the wire encoding and the strict decoder, as a session would.
                guard case .conversation(let decoded) = try! PeerMessage(CBOR.decode(PeerMessage.conversation(message).encoded())) else {
                    preconditionFailure("a conversation message did not decode as one")
                }
                let standing = sides[to].standing
                perform(sides[to].engine.receive(decoded, from: sides[from].identity, now: tick(), standing: standing), side: to)
            } else if let i = sides.indices.first(where: { !sides[$0].pendingTurns.isEmpty }) {
                let conv = sides[i].pendingTurns.removeFirst()
                guard let log = sides[i].engine.log(conv) else { continue }
                perform(sides[i].engine.turnProduced(conv, sides[i].persona(log), now: tick()), side: i)
            } else {
                break
            }
        }
        return steps
    }

    /// Side `i` answers the turns it was asked for, delivering nothing yet.
    public mutating func takeTurns(_ i: Int) {
        while !sides[i].pendingTurns.isEmpty {
            let conv = sides[i].pendingTurns.removeFirst()
            guard let log = sides[i].engine.log(conv) else { continue }
            perform(sides[i].engine.turnProduced(conv, sides[i].persona(log), now: tick()), side: i)
        }
    }

    /// A session between the two opened again: both sides resume.
    public mutating func reconnect() {
        connected = true
        perform(sides[0].engine.peerConnected(sides[1].identity, now: clock), side: 0)
        perform(sides[1].engine.peerConnected(sides[0].identity, now: clock), side: 1)
    }

    /// Drops everything in flight (the session broke).
    public mutating func disconnect() {
        connected = false
        inFlight = []
        sides[0].engine.peerDisconnected(sides[1].identity)
        sides[1].engine.peerDisconnected(sides[0].identity)
    }

    /// Lets `millis` pass and ticks both engines.
    public mutating func wait(_ millis: UInt64) {
        clock += millis
        perform(sides[0].engine.tick(now: clock), side: 0)
        perform(sides[1].engine.tick(now: clock), side: 1)
    }

    /// Loses every message in flight without either side noticing (a session that drops data).
    public mutating func loseInFlight() {
        inFlight = []
    }

    private mutating func tick() -> UInt64 {
        clock += 1
        return clock
    }
}
