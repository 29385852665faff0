import Foundation
import KithCrypto
public import KithModel
public import KithProtocol
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// Kith's TCP transport: listens, dials, runs a ``SecureSession`` per connection, enforces the
/// limits, keeps one session per pair of identities, and reports ``TransportEvent``s.
public final class Transport: Sendable {
    /// Events for the node, in order per connection.
    public let events: AsyncStream<TransportEvent>
    private let continuation: AsyncStream<TransportEvent>.Continuation
    /// The limits in force.
    public let limits: TransportLimits
    let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    let state: NIOLockedValueBox<State>

    struct State {
        var credentials: SessionCredentials
        var sessions: [Identity: PeerConnection] = [:]
        /// Open sockets, inbound and outbound.
        var connections = 0
        /// Outbound connections (their own budget).
        var outbound = 0
        /// Inbound connections by admission id: what may be closed to make room.
        var inbound: [UInt64: any Channel] = [:]
        var admission: Admission
        /// Identities the node counts as friends (room is kept for them).
        var friends: Set<Identity> = []
        /// The admission id of each peer's inbound session (to count it as a friend's once the
        /// friendship begins after the handshake).
        var inboundSession: [Identity: UInt64] = [:]
        var nextID: UInt64 = 1
        var counters = TransportCounters()
        var listener: (any Channel)?
        var closed = false
        /// Events yielded and not yet handled (counted only with ``TransportLimits/eventBacklog``).
        var backlog = 0
        /// Channels that stopped reading while the backlog was full.
        var paused: [any Channel] = []
        /// Where the listener is bound (outbound dials start from its port: see ``dial``).
        var listenAddress: SocketAddress?
        /// Relaying for friends (`policy.relay`) and the circuits open or waiting to be joined.
        var relay = RelayState()
    }

    /// The secret behind retry cookies (per process).
    private let cookieSecret = SecretBytes.random(count: 32)

    /// The clock sessions check manifest expiry against.
    let clock: WallClock

    /// Creates a transport with the node's credentials.
    public init(credentials: SessionCredentials, limits: TransportLimits = TransportLimits(),
                group: any EventLoopGroup, logger: Logger, clock: WallClock = .system) {
        (events, continuation) = AsyncStream.makeStream(of: TransportEvent.self)
        self.clock = clock
        self.limits = limits
        self.eventLoopGroup = group
        self.logger = logger
        state = NIOLockedValueBox(State(credentials: credentials, admission: Admission(limits: limits.admission)))
    }

    /// SO_REUSEPORT (NIO names only SO_REUSEADDR).
    static let reusePort = ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_REUSEPORT))

    /// Reads grow up to a few maximal frames at once (buffers live only while a read is processed).
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 1_024, initial: 8_192, maximum: 262_144)

    /// Senders wait (backpressure) once this much is queued for a socket beyond what the kernel
    /// took, and resume below the low mark: room for a few maximal frames in flight.
    static let writeBuffer = ChannelOptions.Types.WriteBufferWaterMark(low: 256 * 1_024, high: 1_024 * 1_024)

    /// This node's identity.
    public var identity: Identity { state.withLockedValue { $0.credentials.identity } }

    /// Current counters.
    public var counters: TransportCounters { state.withLockedValue { $0.counters } }

    func count(_ update: (inout TransportCounters) -> Void) {
        state.withLockedValue { update(&$0.counters) }
    }

    func nextConnectionID() -> UInt64 {
        state.withLockedValue { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    /// The open session with `peer`, if any.
    public func connection(to peer: Identity) -> PeerConnection? {
        state.withLockedValue { $0.sessions[peer] }
    }

    /// Every peer with an open session.
    public var connectedPeers: [Identity] { state.withLockedValue { Array($0.sessions.keys) } }

    /// Number of open sockets (established or not).
    public var openConnections: Int { state.withLockedValue { $0.connections } }

    /// Starts listening; returns the bound address (host, port).
    public func listen(host: String, port: Int) async throws -> (host: String, port: Int) {
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            // A deep accept queue and eager accepting: a flood must not overflow the kernel's
            // queue, which would drop honest peers' SYNs (each drop costs them a second).
            .serverChannelOption(.backlog, value: 4_096)
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Dials leave from the listening port (NATs then map one port, which friends observe
            // and hole punching reuses): every socket on the port must allow sharing it.
            .serverChannelOption(Self.reusePort, value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelOption(.writeBufferWaterMark, value: Self.writeBuffer)
            .childChannelInitializer { [self] channel in
                self.initialiseInbound(channel)
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        state.withLockedValue { s in
            s.listener = channel
            s.listenAddress = channel.localAddress
        }
        let bound = channel.localAddress
        return (bound?.ipAddress ?? host, bound?.port ?? port)
    }

    private func initialiseInbound(_ channel: any Channel) -> EventLoopFuture<Void> {
        let address = channel.remoteAddress?.ipAddress ?? "?"
        let network = AddressPrefix.of(address)
        let now = clock.now()
        let (id, outcome): (UInt64, Result<[any Channel], Admission.Refusal>) = state.withLockedValue { s in
            let id = s.nextID
            s.nextID += 1
            if s.closed { return (id, .failure(.capacity)) }
            switch s.admission.arrive(id, network: network, now: now, random: { Int.random(in: 0..<$0) }) {
            case .failure(let refusal):
                switch refusal {
                case .capacity: s.counters.refusedAtCapacity += 1
                case .network: s.counters.refusedPerAddress += 1
                case .pending: s.counters.refusedHandshakes += 1
                }
                return (id, .failure(refusal))
            case .success(let victims):
                s.counters.handshakesEvicted += victims.count
                let channels = victims.compactMap { s.inbound[$0] }
                s.inbound[id] = channel
                s.connections += 1
                s.counters.accepted += 1
                return (id, .success(channels))
            }
        }
        switch outcome {
        case .failure:
            logger.debug("refusing connection: at capacity", metadata: ["from": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
            Self.abort(channel)
            return channel.eventLoop.makeSucceededVoidFuture()
        case .success(let evicted):
            for victim in evicted { Self.abort(victim) }
            // Counted free when the socket closes, however it closes (even evicted before its
            // handlers were added).
            channel.closeFuture.whenComplete { [self] _ in
                state.withLockedValue { s in
                    guard s.inbound.removeValue(forKey: id) != nil else { return }
                    s.connections -= 1
                    s.admission.closed(id)
                }
            }
            return addHandlers(to: channel, role: .responder, inbound: InboundAdmission(id: id, ip: address, network: network),
                               promise: channel.eventLoop.makePromise())
        }
    }

    /// Closes a connection the node makes room with, or refuses, with a reset: the peer learns
    /// at once, and the node keeps no closing state for it (a flood's connections cost less).
    private static func abort(_ channel: any Channel) {
        guard let socket = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func addHandlers(to channel: any Channel, role: SecureSession.Role, inbound: InboundAdmission? = nil, preamble: [UInt8]? = nil,
                             relayedVia: String? = nil, simultaneousOpen: Bool = false, promise: EventLoopPromise<PeerConnection>) -> EventLoopFuture<Void> {
        let credentials = state.withLockedValue { $0.credentials }
        let limits = self.limits
        let logger = self.logger
        return channel.eventLoop.makeCompletedFuture {
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout, writeTimeout: limits.keepAliveInterval))
            try ops.addHandler(SessionHandler(role: role, credentials: credentials, transport: self, logger: logger,
                                              inbound: inbound, preamble: preamble, relayedVia: relayedVia,
                                              simultaneousOpen: simultaneousOpen, established: promise))
        }
    }

    // MARK: - Admission (called by the session handlers)

    /// The retry cookie for `ip` in time bucket `bucket` (2-minute buckets).
    func cookie(for ip: String, bucket: UInt64) -> [UInt8] {
        var b = bucket.bigEndian
        let bytes = withUnsafeBytes(of: &b) { Array($0) }
        return BLAKE2b.hash(parts: [Array("kith-cookie".utf8), bytes, Array(ip.utf8)], length: RetryFrame.cookieLength, key: cookieSecret)
    }

    /// The cookie to hand `ip` now.
    func currentCookie(for ip: String) -> [UInt8] { cookie(for: ip, bucket: clock.now() / 120_000) }

    /// True when `cookie` is one this node handed `ip` in the last few minutes.
    func isValidCookie(_ cookie: [UInt8], for ip: String) -> Bool {
        let bucket = clock.now() / 120_000
        return [bucket, bucket &- 1].contains { constantTimeEquals(self.cookie(for: ip, bucket: $0), cookie) }
    }

    private func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// Whether a newcomer from `network` must come back with a cookie before its handshake.
    func underLoad(_ network: String) -> Bool { state.withLockedValue { $0.admission.underLoad(network) } }

    /// An inbound connection proved its address with a valid cookie.
    func proven(_ id: UInt64) {
        state.withLockedValue { s in
            s.admission.proven(id)
            s.counters.cookiesAccepted += 1
        }
    }

    /// An inbound connection sent an application message (pings aside).
    func active(_ id: UInt64) {
        let now = clock.now()
        state.withLockedValue { $0.admission.active(id, now: now) }
    }

    /// Whether the inbound session `id` is a stranger's that stayed idle too long.
    func isIdleStranger(_ id: UInt64) -> Bool {
        let now = clock.now(), limit = UInt64(limits.strangerIdleTimeout.nanoseconds / 1_000_000)
        return state.withLockedValue { $0.admission.isIdleStranger(id, now: now, limit: limit) }
    }

    /// The identities the node counts as friends: inbound room is kept for them, and their idle
    /// sessions are not closed early.
    public func setFriends(_ friends: Set<Identity>) {
        let now = clock.now()
        state.withLockedValue { s in
            // Sessions of strangers who became friends since their handshake count as friends'
            // now: they are no longer closed as idle strangers, nor evicted to make room.
            for peer in friends.subtracting(s.friends) {
                guard let id = s.inboundSession[peer] else { continue }
                _ = s.admission.established(id, friend: true, now: now, random: { Int.random(in: 0..<$0) })
            }
            s.friends = friends
        }
    }

    /// True when `peer` is among the friends last set.
    func isFriend(_ peer: Identity) -> Bool { state.withLockedValue { $0.friends.contains(peer) } }

    /// Dials `host:port` (from the local address `source` when given, else from the listening
    /// port when it can); when `expected` is given the responder must prove exactly that
    /// identity. Returns the session (an existing one if the pair already had one).
    public func dial(host: String, port: Int, expected: Identity?, from source: String? = nil) async throws -> PeerConnection {
        // A responder under load hands out a cookie to come back with; one flooded may close a
        // connection before its handshake: a few attempts, with a short pause between them.
        var cookie: [UInt8]?
        var last: any Error = TransportError("cannot reach \(host):\(port)")
        for attempt in 0..<Self.dialAttempts {
            do {
                let plan = DialPlan(host: host, port: port, role: .initiator(expected: expected), source: source,
                                    preamble: cookie.map { RetryFrame.frame(RetryFrame.cookieTag, $0) }, fromListenPort: limits.dialFromListenPort)
                return try await dialOnce(plan)
            } catch let retry as RetryRequested {
                cookie = retry.cookie
                last = TransportError("\(host):\(port) kept asking to retry (it is under load)")
            } catch let early as ClosedEarly {
                last = TransportError(early.message)
                try? await Task.sleep(for: .milliseconds(50 << attempt))
            }
        }
        throw last
    }

    /// One dial from the listening port, as hole punching needs: both sides dial each other at
    /// once, and their NATs let the crossing connection through (`Protocol/transport.md`).
    public func punch(host: String, port: Int, expected: Identity, timeout: TimeAmount = .seconds(2)) async throws -> PeerConnection {
        guard state.withLockedValue({ $0.listenAddress }) != nil else { throw TransportError("the node does not listen, so it cannot punch") }
        return try await dialOnce(DialPlan(host: host, port: port, role: .initiator(expected: expected), fromListenPort: true,
                                           mustUseListenPort: true, connectTimeout: timeout, simultaneousOpen: true))
    }

    /// A session with `target` through the relay at `relayHost:relayPort`: the relay joins this
    /// connection to one `target` opens to it, and the two run their Noise session end to end
    /// (the relay sees only ciphertext).
    public func dial(viaRelay relayHost: String, port relayPort: Int, to target: Identity) async throws -> PeerConnection {
        try await dialOnce(DialPlan(host: relayHost, port: relayPort, role: .initiator(expected: target), preamble: RelayFrame.request(target),
                                    relayedVia: "\(relayHost):\(relayPort)"))
    }

    /// Answers a relay's `relay-call`: dials the relay, joins circuit `circuit` and answers the
    /// handshake of whoever asked for it.
    public func join(circuit: [UInt8], relayHost: String, relayPort: Int) async throws -> PeerConnection {
        guard circuit.count == RelayFrame.circuitLength else { throw TransportError("a circuit id is \(RelayFrame.circuitLength) bytes") }
        return try await dialOnce(DialPlan(host: relayHost, port: relayPort, role: .responder, preamble: RelayFrame.join(circuit),
                                           relayedVia: "\(relayHost):\(relayPort)"))
    }

    /// Attempts per dial (a retry with a cookie, or after an early close, counts as one).
    static let dialAttempts = 4

    /// How one connection is dialled.
    struct DialPlan {
        var host: String
        var port: Int
        var role: SecureSession.Role
        var source: String?
        /// A frame sent before the handshake (a cookie, a relay request or join).
        var preamble: [UInt8]?
        var relayedVia: String?
        var fromListenPort = false
        var mustUseListenPort = false
        var connectTimeout: TimeAmount?
        /// A hole punch: the peer may be dialling this node at the same moment (see ``SecureSession``).
        var simultaneousOpen = false
    }

    private func dialOnce(_ plan: DialPlan) async throws -> PeerConnection {
        let listen = plan.fromListenPort && plan.source == nil ? state.withLockedValue({ $0.listenAddress }) : nil
        guard let listen else { return try await connect(plan, bindTo: nil) }
        do {
            do {
                return try await connect(plan, bindTo: listen)
            } catch let error as AddressClash where [EADDRINUSE, EADDRNOTAVAIL].contains(error.errno) {
                // This pair of addresses is still closing (a retry right after the responder
                // closed): a moment later the listening port is free for it again.
                try? await Task.sleep(for: .milliseconds(100))
                return try await connect(plan, bindTo: listen)
            }
        } catch let error as AddressClash where !plan.mustUseListenPort {
            // The listening port cannot reach there (a loopback listener, or this exact pair of
            // addresses is still in TIME_WAIT): an ephemeral port can.
            logger.trace("dialling from an ephemeral port", metadata: ["to": "\(plan.host):\(plan.port)", "why": "\(error.errno)"])
            return try await connect(plan, bindTo: nil)
        } catch let error as AddressClash {
            throw TransportError("cannot dial \(plan.host):\(plan.port) from the listening port: \(String(cString: strerror(error.errno)).lowercased())")
        }
    }

    private func connect(_ plan: DialPlan, bindTo local: SocketAddress?) async throws -> PeerConnection {
        let (host, port) = (plan.host, plan.port)
        let admitted: Bool = state.withLockedValue { s in
            guard !s.closed, s.outbound < limits.maxOutbound else { return false }
            s.connections += 1
            s.outbound += 1
            s.counters.dialled += 1
            return true
        }
        guard admitted else { throw TransportError("the node is at its outbound connection limit (\(limits.maxOutbound))") }
        // The session's promise lives on the channel's own event loop, so it is always completed
        // there (the handler fails it when the channel closes, also while the loop shuts down).
        let established = NIOLockedValueBox<EventLoopFuture<PeerConnection>?>(nil)
        var bootstrap = ClientBootstrap(group: eventLoopGroup)
        if let source = plan.source {
            do { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) } catch {
                state.withLockedValue { s in
                    s.connections -= 1
                    s.outbound -= 1
                }
                throw TransportError("cannot dial from \(source): not a local IP address")
            }
        } else if let local {
            bootstrap = bootstrap
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(Self.reusePort, value: 1)
                .bind(to: local)
        }
        bootstrap = bootstrap
            .connectTimeout(plan.connectTimeout ?? limits.handshakeTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Self.receiveBuffers)
            .channelOption(.writeBufferWaterMark, value: Self.writeBuffer)
            .channelInitializer { [self] channel in
                let promise = channel.eventLoop.makePromise(of: PeerConnection.self)
                established.withLockedValue { $0 = promise.futureResult }
                return self.addHandlers(to: channel, role: plan.role, preamble: plan.preamble, relayedVia: plan.relayedVia,
                                        simultaneousOpen: plan.simultaneousOpen, promise: promise)
                    .flatMapErrorThrowing { error in
                        promise.fail(error)
                        throw error
                    }
            }
        let session: EventLoopFuture<PeerConnection>
        do {
            _ = try await bootstrap.connect(host: host, port: port).get()
            guard let future = established.withLockedValue({ $0 }) else { throw SessionError.closed }
            session = future
        } catch {
            state.withLockedValue { s in
                s.connections -= 1
                s.outbound -= 1
            }
            if local != nil, let errno = AddressClash.errno(of: error) { throw AddressClash(errno: errno) }
            throw TransportError("cannot reach \(host):\(port): \(Self.plainWords(error))", refused: AddressClash.code(of: error) == ECONNREFUSED)
        }
        do {
            return try await session.get()
        } catch let retry as RetryRequested {
            throw retry
        } catch let refused as RelayRefused {
            throw TransportError("cannot reach them through the relay at \(host):\(port): \(refused.reason)")
        } catch is ClosedEarly {
            throw ClosedEarly(message: "the connection to \(host):\(port) closed before the handshake began")
        } catch SessionError.closed {
            // When both sides dial at once, the peer closes one of the two connections; the
            // session then lives on the other one, which may still be finishing its hello.
            if case .initiator(let expected?) = plan.role, let existing = await awaitSession(with: expected) { return existing }
            throw ClosedEarly(message: "the connection to \(host):\(port) closed during the handshake")
        } catch let error as SessionError {
            throw TransportError("session with \(host):\(port) failed: \(error)")
        }
    }

    private func awaitSession(with peer: Identity) async -> PeerConnection? {
        let deadline = ContinuousClock.now + .milliseconds(Int(limits.handshakeTimeout.nanoseconds / 1_000_000))
        while ContinuousClock.now < deadline {
            if let conn = connection(to: peer), conn.isActive { return conn }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Registers an established session; keeps one per peer. Returns the session that stays (or
    /// nil when a stranger's inbound session found no room left beside what is kept for friends).
    func register(_ conn: PeerConnection, inbound: InboundAdmission?) -> PeerConnection? {
        let me = identity
        let now = clock.now()
        let room: (keep: Bool, evicted: [any Channel]) = state.withLockedValue { s in
            guard let inbound else { return (true, []) }
            let closing = s.admission.established(inbound.id, friend: s.friends.contains(conn.peer), now: now, random: { Int.random(in: 0..<$0) })
            s.counters.strangersClosed += closing.count
            let channels = closing.filter { $0 != inbound.id }.compactMap { s.inbound[$0] }
            return (!closing.contains(inbound.id), channels)
        }
        for channel in room.evicted { channel.close(promise: nil) }
        guard room.keep else { return nil }
        let (winner, loser): (PeerConnection, PeerConnection?) = state.withLockedValue { s in
            s.counters.established += 1
            if let inbound { s.inboundSession[conn.peer] = inbound.id }
            guard let existing = s.sessions[conn.peer], existing.isActive else {
                s.sessions[conn.peer] = conn
                return (conn, nil)
            }
            // Both sides apply the same rule: keep the session dialled by the bytewise smaller
            // identity; between two dialled by the same side, keep the newer.
            // A direct session always replaces a relayed one (and is never replaced by one).
            func dialler(_ c: PeerConnection) -> Identity { c.weDialled ? me : c.peer }
            let keepNew = existing.isRelayed != conn.isRelayed ? existing.isRelayed
                : dialler(existing) == dialler(conn) || dialler(conn) < dialler(existing)
            s.counters.duplicatesClosed += 1
            if keepNew {
                s.sessions[conn.peer] = conn
                return (conn, existing)
            }
            return (existing, conn)
        }
        if let loser {
            logger.debug("closing duplicate session", metadata: ["peer": "\(loser)"])
            loser.close()
        }
        if winner == conn {
            deliver(.connected(conn))
        }
        return winner
    }

    func connectionClosed(_ conn: PeerConnection?, inbound: InboundAdmission?, reason: String) {
        let wasRegistered: Bool = state.withLockedValue { s in
            // An inbound socket is counted free by its close future (see `initialiseInbound`).
            if inbound == nil {
                s.connections -= 1
                s.outbound -= 1
            }
            if let conn, let inbound, s.inboundSession[conn.peer] == inbound.id { s.inboundSession[conn.peer] = nil }
            guard let conn, s.sessions[conn.peer] == conn else { return false }
            s.sessions[conn.peer] = nil
            return true
        }
        if wasRegistered, let conn { deliver(.disconnected(conn, reason: reason)) }
    }

    func deliver(_ event: TransportEvent) {
        if limits.eventBacklog != nil { state.withLockedValue { $0.backlog += 1 } }
        continuation.yield(event)
    }

    /// True when the consumer is that far behind that sessions should stop reading.
    var isBacklogged: Bool {
        guard let limit = limits.eventBacklog else { return false }
        return state.withLockedValue { $0.backlog >= limit }
    }

    /// A session stopped reading because of the backlog: it resumes once the consumer catches up.
    func pausedReading(_ channel: any Channel) {
        let resumeNow: Bool = state.withLockedValue { s in
            guard s.backlog >= (limits.eventBacklog ?? .max) / 2 else { return true }
            s.paused.append(channel)
            return false
        }
        if resumeNow { channel.setOption(.autoRead, value: true).whenFailure { _ in } }
    }

    /// The consumer handled one event (needed only with ``TransportLimits/eventBacklog``):
    /// once it has caught up to half the limit, paused sessions read again.
    public func eventHandled() {
        guard let limit = limits.eventBacklog else { return }
        let resume: [any Channel] = state.withLockedValue { s in
            s.backlog = max(0, s.backlog - 1)
            guard s.backlog <= limit / 2, !s.paused.isEmpty else { return [] }
            defer { s.paused = [] }
            return s.paused
        }
        for channel in resume { channel.setOption(.autoRead, value: true).whenFailure { _ in } }
    }

    /// Closes the listener and every connection, and ends ``events``.
    public func shutdown() async {
        let (listener, sessions, inbound): ((any Channel)?, [PeerConnection], [any Channel]) = state.withLockedValue { s in
            s.closed = true
            return (s.listener, Array(s.sessions.values), Array(s.inbound.values))
        }
        try? await listener?.close()
        for conn in sessions { try? await conn.channel.close() }
        // Inbound connections without a session of their own: handshakes, and relay circuits.
        for channel in inbound { try? await channel.close() }
        continuation.finish()
    }
}

extension Transport {
    /// A connection failure in words a person understands (no library type names).
    static func plainWords(_ error: any Error) -> String {
        func errno(_ code: Int32) -> String {
            switch code {
            case ECONNREFUSED: "connection refused (nothing listens on that port; is their node running?)"
            case ETIMEDOUT: "no answer (the host is down, or a firewall drops the connection)"
            case EHOSTUNREACH, ENETUNREACH: "the host is unreachable from here"
            case EADDRNOTAVAIL: "that address is not usable from here"
            default: String(cString: strerror(code)).lowercased()
            }
        }
        switch error {
        case let e as NIOConnectionError:
            if let first = e.connectionErrors.first?.error { return plainWords(first) }
            if e.dnsAError != nil || e.dnsAAAAError != nil { return "the name does not resolve to an address" }
            return "no address to connect to"
        case let e as IOError:
            return errno(e.errnoCode)
        case ChannelError.connectTimeout:
            return "no answer in time (the host is down, or a firewall drops the connection)"
        case let e as SessionError:
            return e.description
        default:
            return "the connection failed"
        }
    }
}

/// A transport failure with what happened.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// What happened.
    public let message: String
    /// True when the address answered with a reset (nothing listens there, or a NAT without a
    /// firewall has no mapping for it yet).
    public let isRefused: Bool
    init(_ message: String, refused: Bool = false) {
        self.message = message
        self.isRefused = refused
    }
    public var description: String { message }
}

/// What an inbound connection was admitted as: its admission id, address and network.
struct InboundAdmission: Sendable {
    let id: UInt64
    let ip: String
    let network: String
}

/// Dialling from the listening port failed for a reason an ephemeral port avoids.
struct AddressClash: Error {
    let errno: Int32

    /// The errno of `error` when it is one of those reasons.
    static func errno(of error: any Error) -> Int32? {
        guard let code = code(of: error), [EADDRINUSE, EADDRNOTAVAIL, EINVAL, ENETUNREACH].contains(code) else { return nil }
        return code
    }

    /// The errno behind a connect failure, if any.
    static func code(of error: any Error) -> Int32? {
        switch error {
        case let e as IOError: e.errnoCode
        case let e as NIOConnectionError: (e.connectionErrors.first?.error as? IOError)?.errnoCode
        default: nil
        }
    }
}

/// The responder is under load and handed out a cookie: dial again, presenting it.
struct RetryRequested: Error {
    let cookie: [UInt8]
}

/// The responder closed the connection before the handshake ended (a flood may have pushed it
/// out): worth another attempt.
struct ClosedEarly: Error {
    let message: String
}
