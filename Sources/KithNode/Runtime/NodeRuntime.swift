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
    public let context: NodeContext
    let options: RunOptions
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let transport: Transport
    private var control: ControlServer?
    private var tasks: [Task<Void, Never>] = []
    private var listenAddress: (host: String, port: Int) = ("", 0)
    private var manifest: StoredManifest
    private let startedAt = Date()
    private var lastSeen: [Identity: UInt64] = [:]
    private var waiters: [Identity: [UInt64: CheckedContinuation<String?, Never>]] = [:]
    private var nextWaiter: UInt64 = 0
    private var redial: [Identity: (due: Date, backoff: Double)] = [:]
    private var stopped = false
    private let udp: DatagramService?
    private var udpAddress: (host: String, port: Int)?
    private var discovered: [Identity: (endpoint: String, seq: UInt64, at: UInt64)] = [:]

    /// How often LAN announcements go out, in seconds.
    public static let announceInterval: Double = 5

    /// How long `kith connect` waits for the other node's answer.
    public static let replyTimeout: Duration = .seconds(10)

    /// Prepares a node; nothing listens until ``start()``.
    public init(context: NodeContext, options: RunOptions, logger: Logger, limits: TransportLimits = TransportLimits()) throws(NodeError) {
        self.context = context
        self.options = options
        self.logger = logger
        self.manifest = try context.currentManifest()
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let credentials = SessionCredentials(signing: context.keys.signing, network: context.record.networkID,
                                             manifest: manifest.object)
        transport = Transport(credentials: credentials, limits: limits, group: group, logger: logger)
        udp = options.udpPort == nil ? nil
            : DatagramService(signing: context.keys.signing, network: context.record.networkID, group: group, logger: logger)
    }

    /// The node's identity.
    public nonisolated var identity: Identity { context.identity }

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
        manifest = try context.currentManifest(endpoints: endpoints)
        transport.updateManifest(manifest.object)

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

    // MARK: - Events

    private func handle(_ event: TransportEvent) async {
        let now = Clock.nowMillis()
        switch event {
        case .connected(let conn, let peerManifest, let object):
            lastSeen[conn.peer] = now
            redial[conn.peer] = nil
            do {
                let outcome = try context.store.storeManifest(object, manifest: peerManifest, receivedAt: now)
                if outcome == .equivocation {
                    logger.warning("peer signed two different manifests with one seq", metadata: ["peer": "\(conn.peer.did)"])
                }
            } catch {
                logger.error("cannot store a manifest", metadata: ["error": "\(error)"])
            }
            logger.info("connected", metadata: ["peer": "\(conn)", "name": "\(peerManifest.name)"])
            // Our own record without theirs: (re)send the request; a friend who accepted while we
            // were away answers with their record.
            if relationship(with: conn.peer) == .requested, let mine = myRecord(with: conn.peer) {
                try? await conn.send(type: "friend-request", fields: ["record": mine.wireValue])
            }
        case .disconnected(let conn, let reason):
            lastSeen[conn.peer] = now
            logger.info("disconnected", metadata: ["peer": "\(conn)", "reason": "\(reason)"])
        case .message(let conn, let type, let body):
            await handleMessage(conn, type: type, body: body)
        }
    }

    private func handleMessage(_ conn: PeerConnection, type: String, body: CBOR) async {
        switch type {
        case "friend-request":
            await handleFriendRequest(conn, body: body)
        case "friend-accept":
            guard let record = verifiedRecord(body, from: conn) else { return }
            // Only an answer to our own request completes a friendship.
            guard myRecord(with: conn.peer) != nil else { return }
            store(record)
            logger.notice("friend request accepted", metadata: ["peer": "\(conn.peer.did)"])
            resolveWaiters(conn.peer, with: "accepted")
        case "manifest-request":
            try? await conn.send(type: "manifest", fields: ["manifest": manifest.object.wireValue])
        case "manifest":
            guard let wire = body["manifest"], let object = try? SignedObject(wireValue: wire),
                  let m = try? Manifest.verify(object, now: Clock.nowMillis()), m.id == conn.peer, m.net == context.record.networkID
            else {
                logger.notice("ignoring an invalid manifest", metadata: ["peer": "\(conn)"])
                return
            }
            _ = try? context.store.storeManifest(object, manifest: m, receivedAt: Clock.nowMillis())
        case "friend-pending":
            resolveWaiters(conn.peer, with: "pending")
        case "friend-decline":
            resolveWaiters(conn.peer, with: "declined")
        default:
            logger.debug("ignoring unknown message", metadata: ["type": "\(type)", "peer": "\(conn)"])
        }
    }

    private func handleFriendRequest(_ conn: PeerConnection, body: CBOR) async {
        guard let record = verifiedRecord(body, from: conn) else { return }
        let peer = conn.peer
        let policy = context.model.policy.connect
        let alreadyMine = myRecord(with: peer) != nil
        if policy == .never && !alreadyMine {
            logger.notice("declined a friend request (policy.connect: never)", metadata: ["peer": "\(peer.did)"])
            try? await conn.send(type: "friend-decline")
            return
        }
        store(record)
        if alreadyMine || policy == .auto {
            let mine = ensureMyRecord(with: peer)
            logger.notice("friends", metadata: ["peer": "\(peer.did)", "why": "\(alreadyMine ? "mutual request" : "policy.connect: auto")"])
            try? await conn.send(type: "friend-accept", fields: ["record": mine.wireValue])
            resolveWaiters(peer, with: "accepted")
        } else {
            logger.notice("friend request waiting for `kith accept`", metadata: ["peer": "\(peer.did)"])
            try? await conn.send(type: "friend-pending")
        }
    }

    private func verifiedRecord(_ body: CBOR, from conn: PeerConnection) -> SignedObject? {
        guard let wire = body["record"] else { return nil }
        do {
            let object = try SignedObject(wireValue: wire)
            let record = try ConnectionRecord.verify(object)
            guard record.by == conn.peer, record.joins(identity, conn.peer) else {
                logger.notice("ignoring a connection record not signed by the peer for this pair", metadata: ["peer": "\(conn)"])
                return nil
            }
            return object
        } catch {
            logger.notice("ignoring an invalid connection record", metadata: ["peer": "\(conn)", "error": "\(error)"])
            return nil
        }
    }

    private func store(_ object: SignedObject) {
        guard let record = try? ConnectionRecord.verify(object) else { return }
        do { try context.store.storeConnection(object, record: record, receivedAt: Clock.nowMillis()) } catch {
            logger.error("cannot store a connection record", metadata: ["error": "\(error)"])
        }
    }

    private func myRecord(with peer: Identity) -> SignedObject? {
        guard let stored = try? context.store.connection(between: identity, and: peer, by: identity),
              stored.record.kind == .connection else { return nil }
        return stored.object
    }

    private func ensureMyRecord(with peer: Identity) -> SignedObject {
        if let mine = myRecord(with: peer) { return mine }
        let object = ConnectionRecord(signer: identity, other: peer, ts: Clock.nowMillis()).signed(with: context.keys.signing)
        store(object)
        return object
    }

    /// Where this node stands with `peer`.
    public func relationship(with peer: Identity) -> Relationship {
        let records = (try? context.store.connections(involving: peer)) ?? []
        let pair = records.filter { $0.record.joins(identity, peer) }
        return .from(mine: pair.contains { $0.record.by == identity && $0.record.kind == .connection },
                     theirs: pair.contains { $0.record.by == peer && $0.record.kind == .connection })
    }

    // MARK: - UDP

    private func announce() {
        guard let udp, let tcpPort = UInt64(exactly: listenAddress.port) else { return }
        let kind = Datagram.Kind.announce(tcpPort: tcpPort, seq: manifest.manifest.seq, hash: manifest.object.hash)
        for target in options.lanTargets {
            guard let (host, port) = Endpoint.splitHostPort(target) else { continue }
            udp.send(kind, toHost: host, port: port)
        }
    }

    /// Tells friends with a UDP endpoint that our manifest changed.
    private func sendHeads() {
        guard let udp else { return }
        let kind = Datagram.Kind.head(seq: manifest.manifest.seq, hash: manifest.object.hash)
        let records = (try? context.store.connections(involving: identity)) ?? []
        for peer in Set(records.map { $0.record.other(than: identity) }) where relationship(with: peer) == .friends {
            let udpEndpoints = ((try? context.store.manifest(of: peer))?.manifest.endpoints ?? []).compactMap(Endpoint.init).filter { $0.scheme == "udp" }
            for e in udpEndpoints { udp.send(kind, toHost: e.host, port: e.port) }
        }
    }

    private func handle(_ datagram: Datagram, fromHost host: String) async {
        let peer = datagram.from
        let storedSeq = (try? context.store.manifest(of: peer))?.manifest.seq ?? 0
        let rel = relationship(with: peer)
        switch datagram.kind {
        case .announce(let tcpPort, let seq, _):
            let endpoint = Endpoint(scheme: "tcp", host: host, port: Int(tcpPort)).description
            let isNew = discovered[peer] == nil
            discovered[peer] = (endpoint, seq, Clock.nowMillis())
            if isNew { logger.info("discovered a node on the LAN", metadata: ["peer": "\(peer.did)", "at": "\(endpoint)"]) }
            if rel == .friends || rel == .requested {
                try? context.store.addPeer(peer, endpoint: endpoint, at: Clock.nowMillis())
                if transport.connection(to: peer) == nil {
                    _ = try? await transport.dial(host: host, port: Int(tcpPort), expected: peer)
                }
            }
        case .head(let seq, _):
            guard rel == .friends, seq > storedSeq else { return }
            if let conn = transport.connection(to: peer) {
                try? await conn.send(type: "manifest-request")
            } else {
                _ = await dialAny(peer)
            }
        }
    }

    // MARK: - Waiting for answers

    private func waitForReply(from peer: Identity) async -> String? {
        nextWaiter += 1
        let token = nextWaiter
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: NodeRuntime.replyTimeout)
            await self?.resolveWaiter(peer, token: token, with: nil)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            waiters[peer, default: [:]][token] = continuation
        }
    }

    private func resolveWaiter(_ peer: Identity, token: UInt64, with value: String?) {
        if let c = waiters[peer]?.removeValue(forKey: token) { c.resume(returning: value) }
    }

    private func resolveWaiters(_ peer: Identity, with value: String) {
        guard let list = waiters.removeValue(forKey: peer) else { return }
        for (_, c) in list { c.resume(returning: value) }
    }

    // MARK: - Redialling

    private func endpoints(of peer: Identity) -> [(String, Int)] {
        var out: [String] = (try? context.store.endpoints(of: peer)) ?? []
        if let m = try? context.store.manifest(of: peer) { out += m.manifest.endpoints }
        var seen = Set<String>()
        return out.compactMap { text in
            guard seen.insert(text).inserted, let e = Endpoint(text), e.scheme == "tcp" else { return nil }
            return (e.host, e.port)
        }
    }

    private func dialAny(_ peer: Identity) async -> PeerConnection? {
        if let conn = transport.connection(to: peer), conn.isActive { return conn }
        for (host, port) in endpoints(of: peer) {
            if let conn = try? await transport.dial(host: host, port: port, expected: peer) { return conn }
        }
        return nil
    }

    private func redialDue() async {
        let now = Date()
        let connected = Set(transport.connectedPeers)
        let wanted = ((try? context.store.connections(involving: identity)) ?? [])
            .map { $0.record.other(than: identity) }
        for peer in Set(wanted) where !connected.contains(peer) {
            let rel = relationship(with: peer)
            guard rel == .friends || rel == .requested else { continue }
            let entry = redial[peer] ?? (due: now, backoff: options.redialInterval)
            guard entry.due <= now else { continue }
            redial[peer] = (due: now.addingTimeInterval(entry.backoff), backoff: min(entry.backoff * 2, 300))
            Task { [weak self] in _ = await self?.dialAny(peer) }
        }
    }

    // MARK: - Control commands

    /// `kith status`.
    public func status() -> StatusReport {
        let records = (try? context.store.connections(involving: identity)) ?? []
        let others = Set(records.map { $0.record.other(than: identity) })
        let rels = others.map { relationship(with: $0) }
        let c = transport.counters
        return StatusReport(
            id: identity.did, name: context.model.name, network: context.record.network,
            listen: Endpoint(scheme: "tcp", host: options.advertisedHost ?? listenAddress.host, port: listenAddress.port).description,
            udp: udpAddress.map { Endpoint(scheme: "udp", host: options.advertisedHost ?? $0.host, port: $0.port).description },
            manifestSeq: manifest.manifest.seq, connected: transport.connectedPeers.count,
            friends: rels.filter { $0 == .friends }.count, pendingRequests: rels.filter { $0 == .pending }.count,
            knownManifests: ((try? context.store.allManifests()) ?? []).count - 1,
            uptimeSeconds: Int(Date().timeIntervalSince(startedAt)),
            tcp: ["accepted": c.accepted, "established": c.established, "failures": c.failures,
                  "handshake_timeouts": c.handshakeTimeouts, "idle_timeouts": c.idleTimeouts,
                  "refused_at_capacity": c.refusedAtCapacity, "refused_handshakes": c.refusedHandshakes,
                  "duplicates_closed": c.duplicatesClosed, "open": transport.openConnections],
            udpCounters: udp.map { $0.counters.merging(["discovered": discovered.count]) { a, _ in a } } ?? [:])
    }

    /// `kith invite`: `did:key:…@host:port`.
    public func invite() throws -> String {
        guard let host = options.advertisedHost else {
            throw NodeError("the node listens on a wildcard address: restart with --advertise HOST so friends know where to dial")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(identity.did)@\(hostPart):\(listenAddress.port)"
    }

    /// `kith connect DID@HOST:PORT`: dial, verify, send a friend request, wait for the answer.
    public func connect(to peer: Identity, host: String, port: Int) async -> ConnectOutcome {
        func outcome(_ kind: String, _ message: String) -> ConnectOutcome {
            ConnectOutcome(outcome: kind, id: peer.did, name: name(of: peer), message: message)
        }
        guard peer != identity else { return outcome("failed", "that is this node's own identity") }
        let endpoint = Endpoint(scheme: "tcp", host: host, port: port).description
        try? context.store.addPeer(peer, endpoint: endpoint, at: Clock.nowMillis())
        let conn: PeerConnection
        do {
            conn = try await transport.dial(host: host, port: port, expected: peer)
        } catch {
            return outcome("failed", "\(error). Check the address and that their node is running (`kith run`).")
        }
        if relationship(with: peer) == .friends { return outcome("already-friends", "you are already friends") }
        let mine = ensureMyRecord(with: peer)
        for attempt in 0..<2 {
            let target = attempt == 0 ? conn : (await dialAny(peer) ?? conn)
            do {
                try await target.send(type: "friend-request", fields: ["record": mine.wireValue])
            } catch {
                continue
            }
            let reply = await waitForReply(from: peer)
            switch reply {
            case "accepted": return outcome("accepted", "you are now friends")
            case "pending": return outcome("pending", "request delivered; they decide with `kith accept` (their policy is ask)")
            case "declined": return outcome("declined", "they declined (or their policy refuses new connections)")
            default:
                if relationship(with: peer) == .friends { return outcome("accepted", "you are now friends") }
                if target.isActive { return outcome("failed", "no answer within \(NodeRuntime.replyTimeout); your request stays open and is re-sent when you next connect") }
            }
        }
        return outcome("failed", "the connection dropped before they answered; your request is re-sent when you next connect")
    }

    /// `kith requests`.
    public func requests() -> [RequestReport] {
        let records = (try? context.store.connections(involving: identity)) ?? []
        return records.filter { $0.record.by != identity && relationship(with: $0.record.by) == .pending }.map { stored in
            let m = try? context.store.manifest(of: stored.record.by)
            return RequestReport(id: stored.record.by.did, name: m?.manifest.name, interests: m?.manifest.interests ?? [],
                                 receivedAt: stored.receivedAt)
        }
    }

    /// `kith accept DID`.
    public func accept(_ peer: Identity) async -> ConnectOutcome {
        guard relationship(with: peer) == .pending else {
            return ConnectOutcome(outcome: "failed", id: peer.did, name: name(of: peer), message: "there is no pending request from \(peer.did)")
        }
        let mine = ensureMyRecord(with: peer)
        var delivered = false
        if let conn = await dialAny(peer) {
            delivered = (try? await conn.send(type: "friend-accept", fields: ["record": mine.wireValue])) != nil
        }
        return ConnectOutcome(outcome: "accepted", id: peer.did, name: name(of: peer),
                              message: delivered ? "you are now friends" : "you are now friends; they learn it when their node next connects")
    }

    /// `kith decline DID`.
    public func decline(_ peer: Identity) async -> ConnectOutcome {
        guard relationship(with: peer) == .pending else {
            return ConnectOutcome(outcome: "failed", id: peer.did, name: name(of: peer), message: "there is no pending request from \(peer.did)")
        }
        try? context.store.deleteConnection(between: identity, and: peer, by: peer)
        if let conn = transport.connection(to: peer) { try? await conn.send(type: "friend-decline") }
        return ConnectOutcome(outcome: "declined", id: peer.did, name: name(of: peer), message: "request declined")
    }

    /// `kith peers`: friends and open requests, with connection state and addresses.
    public func peers() -> [PeerReport] {
        let records = (try? context.store.connections(involving: identity)) ?? []
        let others = Set(records.map { $0.record.other(than: identity) }).union(discovered.keys)
        let connected = Set(transport.connectedPeers)
        return others.sorted().map { peer in
            let rel = relationship(with: peer)
            var addresses = endpoints(of: peer).map { Endpoint(scheme: "tcp", host: $0.0, port: $0.1).description }
            if let conn = transport.connection(to: peer), !addresses.contains("tcp://\(conn.remoteAddress)") {
                addresses.append("seen from \(conn.remoteAddress)")
            }
            if let lan = discovered[peer], !addresses.contains(lan.endpoint) { addresses.append(lan.endpoint) }
            return PeerReport(id: peer.did, name: name(of: peer), relationship: rel == .none ? "discovered" : rel.rawValue,
                              connected: connected.contains(peer), lastSeen: connected.contains(peer) ? Clock.nowMillis() : lastSeen[peer],
                              addresses: addresses)
        }
    }

    private func name(of peer: Identity) -> String? {
        (try? context.store.manifest(of: peer))?.manifest.name
    }
}
