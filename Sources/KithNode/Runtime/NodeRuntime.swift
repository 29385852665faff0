import Foundation
import KithCBOR
import KithCrypto
public import KithModel
public import KithNet
import KithProtocol
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
    let group: MultiThreadedEventLoopGroup
    let transport: Transport
    var control: ControlServer?
    var tasks: [Task<Void, Never>] = []
    var listenAddress: (host: String, port: Int) = ("", 0)
    var manifest: StoredManifest
    let startedAt = Date()
    var lastSeen: [Identity: UInt64] = [:]
    var waiters: [Identity: [UInt64: CheckedContinuation<String?, Never>]] = [:]
    var nextWaiter: UInt64 = 0
    /// Answers that arrived before anyone waited for them (nil inside: expected, not yet come).
    var earlyReplies: [Identity: String?] = [:]
    var redial: [Identity: (due: Date, backoff: Double)] = [:]
    private var stopped = false
    let udp: DatagramService?
    var udpAddress: (host: String, port: Int)?
    var discovered: [Identity: (endpoint: String, seq: UInt64, at: UInt64)] = [:]
    var gossip: GossipEngine
    /// People the AI suggested meeting (`policy.meet: ask`), by identity.
    var suggestions: [Identity: Suggestion] = [:]
    /// When each person was last considered for a meeting.
    var lastMeetConsidered: [Identity: UInt64] = [:]
    /// Turns the disclosure guard had to regenerate, redact or refuse.
    var guardBlocked = 0
    /// Conversations that are not complete, by hex id.
    var live: [String: LiveConversation] = [:]
    /// Conversation protocol outcomes by kind (opened, entries_accepted, entries_refused, …).
    var conversationCounters: [String: Int] = [:]
    var gossipPeers: Set<Identity> = []
    var endpoints: [String] = []

    /// How often a digest goes to a random friend (anti-entropy), in seconds.
    public static let antiEntropyInterval: Double = 30

    /// How often LAN announcements go out, in seconds.
    public static let announceInterval: Double = 5

    /// How long `kith connect` waits for the other node's answer.
    public static let replyTimeout: Duration = .seconds(10)

    /// Prepares a node; nothing listens until ``start()``.
    public init(context: NodeContext, options: RunOptions, logger: Logger, limits: TransportLimits = TransportLimits()) throws(NodeError) {
        self.context = context
        self.identity = context.identity
        self.options = options
        self.logger = logger
        self.manifest = try context.currentManifest()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let credentials = SessionCredentials(signing: context.keys.signing, network: context.record.networkID,
                                             manifest: manifest.object)
        transport = Transport(credentials: credentials, limits: limits, group: group, logger: logger)
        var gossipConfig = GossipConfig()
        gossipConfig.hops = options.hops
        gossip = GossipEngine(me: context.identity, network: context.record.networkID, config: gossipConfig)
        udp = options.udpPort == nil ? nil
            : DatagramService(signing: context.keys.signing, network: context.record.networkID, group: group, logger: logger)
    }

    /// The node's identity.
    public nonisolated let identity: Identity

    /// Binds the listener and the control socket, re-signs the manifest with the endpoints,
    /// starts the event and redial loops. Returns the `ready` line.
    public func start() async throws -> String {
        let bound: (host: String, port: Int)
        do {
            bound = try await transport.listen(host: options.listenHost, port: options.listenPort)
        } catch {
            throw NodeError("cannot listen on \(options.listenHost):\(options.listenPort): \(error); pick another --listen")
        }
        listenAddress = bound
        var endpoints: [String] = []
        if let host = options.advertisedHost {
            endpoints.append(Endpoint(scheme: "tcp", host: host, port: bound.port).description)
        }
        if let udp, let udpPort = options.udpPort {
            let udpHost = options.udpHost ?? options.listenHost
            do {
                udpAddress = try await udp.bind(host: udpHost, port: udpPort, broadcast: options.lan)
            } catch {
                throw NodeError("cannot bind UDP on \(udpHost):\(udpPort): \(error); pick another --udp")
            }
            if let host = options.advertisedHost, let port = udpAddress?.port {
                endpoints.append(Endpoint(scheme: "udp", host: host, port: port).description)
            }
        }
        let previousSeq = manifest.manifest.seq
        self.endpoints = endpoints
        manifest = try context.currentManifest(endpoints: endpoints)
        transport.updateManifest(manifest.object)
        loadGossipState()
        loadOpenConversations()

        let control = ControlServer(path: context.home.controlSocket, runtime: self, group: group, logger: logger)
        try await control.start()
        self.control = control

        let events = transport.events
        tasks.append(Task { [weak self] in
            for await event in events {
                await self?.handle(event)
            }
        })
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                await self?.redialDue()
                try? await Task.sleep(for: .seconds(1))
            }
        })
        tasks.append(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(NodeRuntime.antiEntropyInterval))
                await self?.antiEntropy()
            }
        })
        if let udp {
            let datagrams = udp.events
            tasks.append(Task { [weak self] in
                for await (datagram, host, _) in datagrams {
                    await self?.handle(datagram, fromHost: host)
                }
            })
            if options.lan {
                tasks.append(Task { [weak self] in
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
        return "ready \(identity.did) \(shown)"
    }

    /// Closes every connection, the listener and the control socket.
    public func stop() async {
        guard !stopped else { return }
        stopped = true
        for task in tasks { task.cancel() }
        await control?.stop()
        await udp?.shutdown()
        await transport.shutdown()
        for (_, list) in waiters { for (_, c) in list { c.resume(returning: nil) } }
        waiters = [:]
        try? await group.shutdownGracefully()
        logger.notice("node stopped")
    }
}
