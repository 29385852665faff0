import Foundation
import KithCBOR
import KithCrypto
public import KithModel
public import KithNet
import KithPersona
public import KithProtocol
import KithStore
public import Logging
import NIOCore
import NIOPosix

/// A running node: the transport, the friend workflow, redialling, and the answers to control
/// commands. `kith run` creates one and keeps it until SIGINT/SIGTERM.
public actor NodeRuntime {
    /// The opened node.
    public internal(set) var context: NodeContext
    let options: RunOptions
    let logger: Logger
    /// The node's one wall clock.
    let clock: WallClock
    /// Sockets: the event loops, TCP, UDP, the control socket and the node's own tasks.
    var io: NodeIO
    /// What this node publishes about itself: its manifest and addresses.
    var published: Publication
    var gossip: GossipEngine
    /// The conversation engine and, beside it, who follows each conversation.
    var conversations: Conversations
    /// The friend workflow's rules and the `kith connect` callers waiting for answers.
    var friends: Friends
    /// What the node knows of peers beyond the engines: last contact, redials, LAN sightings,
    /// meetings its AI considered.
    var neighbourhood: Neighbourhood
    /// The Mainline DHT: this node's record and lookups by key.
    var reach = DHTReach()
    /// NAT traversal: what friends observe, relays, hole punches.
    var nat = NATReach()
    /// Makes the dashboard's sign-in address (`kith dashboard`); nil when it is off.
    var dashboardSignIn: (@Sendable () -> String?)?

    /// Tells the node how to make its dashboard's sign-in address (a single-use code in it).
    public func setDashboard(signIn: (@Sendable () -> String?)?) { dashboardSignIn = signIn }

    /// How often a digest goes to a random friend (anti-entropy), in seconds.
    public static let antiEntropyInterval: Double = 30

    /// How often LAN announcements go out, in seconds.
    public static let announceInterval: Double = 5

    /// Prepares a node; nothing listens until ``start()``.
    /// Most transport events waiting for the runtime before sessions pause reading.
    public static let eventBacklog = 4_096

    public init(context: NodeContext, options: RunOptions, logger: Logger, limits: TransportLimits = TransportLimits(),
                clock: WallClock = .system) throws(NodeError) {
        self.context = context
        self.identity = context.identity
        self.options = options
        self.logger = logger
        self.clock = clock
        // The stored manifest until `start()` knows the endpoints: a restart signs at most once.
        let manifest: StoredManifest
        if let stored = try context.storedManifest() { manifest = stored } else { manifest = try context.currentManifest(now: clock.now()) }
        published = Publication(manifest: manifest)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let credentials = SessionCredentials(signing: context.keys.signing, network: context.record.networkID)
        // Sessions stop reading while this many events wait for the runtime (memory stays bounded
        // however fast peers send); the event loop below reports each one handled.
        var limits = limits
        limits.eventBacklog = limits.eventBacklog ?? Self.eventBacklog
        io = NodeIO(group: group, transport: Transport(credentials: credentials, limits: limits, group: group, logger: logger, clock: clock),
                    udp: options.udpPort == nil ? nil
                        : DatagramService(signing: context.keys.signing, network: context.record.networkID, group: group, logger: logger,
                                          clock: clock))
        var gossipConfig = GossipConfig()
        gossipConfig.hops = options.hops
        gossip = GossipEngine(me: context.identity, network: context.record.networkID, config: gossipConfig)
        conversations = Conversations(engine: ConversationEngine(key: context.keys.signing, network: context.record.networkID,
                                                                 policy: context.model.policy, manifest: manifest.object))
        friends = Friends(engine: FriendshipEngine(key: context.keys.signing, network: context.record.networkID,
                                                   policy: context.model.policy.connect, manifest: manifest.object))
        neighbourhood = Neighbourhood(reach: Reachability(startedAt: clock.now(),
                                                          redialer: Redialer(initialBackoff: UInt64(options.redialInterval * 1000))),
                                      introductions: Introductions(engine: IntroductionEngine(me: context.identity)))
    }

    /// The TCP transport.
    var transport: Transport { io.transport }
    /// The UDP service, when enabled.
    var udp: DatagramService? { io.udp }
    /// The current signed manifest.
    var manifest: StoredManifest { published.manifest }

    /// The node's identity.
    public nonisolated let identity: Identity

    /// Binds the listener and the control socket, signs the manifest if the model changed while
    /// the node was stopped, starts the event and redial loops. Returns what `kith run` prints
    /// once it serves.
    public func start() async throws -> ReadyLine {
        let model = context.model
        Task.detached(priority: .utility) { TurnIndexes.prepare(model) }
        let bound: (host: String, port: Int)
        if let records = try? context.store.connections(involving: identity) {
            transport.setFriends(Set(relationships(records).filter { $0.value == .friends }.keys))
        }
        do {
            bound = try await transport.listen(host: options.listenHost, port: options.listenPort)
        } catch {
            throw NodeError("cannot listen on \(options.listenHost):\(options.listenPort): \(error); pick another --listen")
        }
        published.listen = bound
        var endpoints: [String] = []
        if let host = options.advertisedHost {
            endpoints.append(Endpoint(scheme: "tcp", host: host, port: bound.port).description)
        }
        if let udp, let udpPort = options.udpPort {
            let udpHost = options.udpHost ?? options.listenHost
            do {
                published.udp = try await udp.bind(host: udpHost, port: udpPort, broadcast: options.lan)
            } catch {
                throw NodeError("cannot bind UDP on \(udpHost):\(udpPort): \(error); pick another --udp")
            }
            if let host = options.advertisedHost, let port = published.udp?.port {
                endpoints.append(Endpoint(scheme: "udp", host: host, port: port).description)
            }
        }
        let previousSeq = manifest.manifest.seq
        published.endpoints = endpoints
        published.configured = endpoints
        transport.setRelaying(context.model.policy.relay == .friends)
        published.manifest = try context.currentManifest(now: clock.now())
        conversations.engine.use(manifest: manifest.object)
        friends.engine.manifest = manifest.object
        try loadGossipState()
        try loadConversations()

        try await startDHT()

        let control = ControlServer(path: context.home.controlSocket, runtime: self, group: io.group, logger: logger)
        try await control.start()
        io.control = control

        let events = transport.events, transport = transport
        io.tasks.append(Task { [weak self] in
            for await event in events {
                await self?.handle(event)
                transport.eventHandled()
            }
        })
        io.tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                await self?.redialDue()
                await self?.tickConversations()
                await self?.tickIntroductions()
                await self?.tickGossip()
                await self?.tickNAT()
                try? await Task.sleep(for: .seconds(1))
            }
        })
        io.tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(NodeRuntime.antiEntropyInterval))
                await self?.antiEntropy()
                await self?.expireRequests()
            }
        })
        if let udp {
            let datagrams = udp.events
            io.tasks.append(Task { [weak self] in
                for await (datagram, host, _) in datagrams {
                    await self?.handle(datagram, fromHost: host)
                }
            })
            if options.lan {
                io.tasks.append(Task { [weak self] in
                    while !Task.isCancelled {
                        await self?.announce()
                        try? await Task.sleep(for: .seconds(NodeRuntime.announceInterval))
                    }
                })
            }
            if manifest.manifest.seq != previousSeq { sendHeads() }
        }
        let shown = Endpoint(scheme: "tcp", host: options.advertisedHost ?? bound.host, port: bound.port)
        logger.notice("node started", metadata: ["id": "\(identity.did)", "listen": "\(shown)"])
        return ReadyLine(id: identity.did, listen: shown.description, port: bound.port)
    }

    /// Closes every connection, the listener and the control socket.
    public func stop() async {
        guard !io.stopped else { return }
        io.stopped = true
        for task in io.tasks { task.cancel() }
        await io.control?.stop()
        await udp?.shutdown()
        await reach.service?.shutdown()
        await transport.shutdown()
        friends.replies.cancelAll()
        try? await io.group.shutdownGracefully()
        logger.notice("node stopped")
    }
}

/// The node's sockets and tasks.
struct NodeIO {
    let group: MultiThreadedEventLoopGroup
    let transport: Transport
    let udp: DatagramService?
    var control: ControlServer?
    var tasks: [Task<Void, Never>] = []
    var stopped = false
}

/// What this node publishes about itself.
struct Publication {
    /// The current signed manifest.
    var manifest: StoredManifest
    /// Where TCP listens.
    var listen: (host: String, port: Int) = ("", 0)
    /// Where UDP is bound, when enabled.
    var udp: (host: String, port: Int)?
    /// Where this node listens, as told to friends (never in the manifest): the advertised
    /// address, and the public one friends observe when the NAT maps it the same for everyone.
    var endpoints: [String] = []
    /// Where the node was configured to listen (`--advertise`/`--listen`), before observations.
    var configured: [String] = []
    /// Friends that relay for this node behind its NAT, as `did:key:…@HOST:PORT`.
    var relays: [String] = []
}

/// The conversation engine and the node's side of each conversation.
struct Conversations {
    var engine: ConversationEngine
    var followers = ConversationFollowers()
}

/// The friend workflow: its rules and who waits for answers.
struct Friends {
    var engine: FriendshipEngine
    var replies = ReplyWaiters()
    /// Stranger requests ignored because too many were waiting (in all, or from one network).
    var requestsRefusedAtCapacity = 0
}

/// What the node knows of peers beyond the engines.
struct Neighbourhood {
    /// Last contact and redial schedule.
    var reach: Reachability
    /// Friends of friends the AI considered meeting.
    var meetings = MeetingPlanner()
    /// Nodes seen on the LAN.
    var lan = LANDiscovery()
    /// Meetings through mutual friends, and the addresses they brought.
    var introductions: Introductions
}

/// Introductions: the engine and what mutual friends said about where people are.
struct Introductions {
    var engine: IntroductionEngine
    /// Addresses a mutual friend passed on (bounded; they are tried before asking again).
    var learned = IntroducedAddresses()
}

/// When peers were last connected, and when to dial them again.
struct Reachability {
    let startedAt: UInt64
    var lastSeen: [Identity: UInt64] = [:]
    var redialer: Redialer
}
