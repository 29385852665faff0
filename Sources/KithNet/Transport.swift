import Foundation
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
    private let state: NIOLockedValueBox<State>

    private struct State {
        var credentials: SessionCredentials
        var sessions: [Identity: PeerConnection] = [:]
        var connections = 0
        var handshakes = 0
        /// Inbound connections and handshakes per remote IP address.
        var connectionsByAddress: [String: Int] = [:]
        var handshakesByAddress: [String: Int] = [:]
        /// Inbound connections still in their handshake, with when they were admitted: when every
        /// handshake slot is taken, the oldest is closed to make room.
        var pendingHandshakes: [ObjectIdentifier: (since: NIODeadline, channel: any Channel)] = [:]
        var nextID: UInt64 = 1
        var counters = TransportCounters()
        var listener: (any Channel)?
        var closed = false
    }

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
        state = NIOLockedValueBox(State(credentials: credentials))
    }

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
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelOption(.writeBufferWaterMark, value: Self.writeBuffer)
            .childChannelInitializer { [self] channel in
                self.initialiseInbound(channel)
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        state.withLockedValue { $0.listener = channel }
        let bound = channel.localAddress
        return (bound?.ipAddress ?? host, bound?.port ?? port)
    }

    private func initialiseInbound(_ channel: any Channel) -> EventLoopFuture<Void> {
        let address = channel.remoteAddress?.ipAddress ?? "?"
        let (admitted, evicted): (Bool, (any Channel)?) = state.withLockedValue { s in
            if s.closed { return (false, nil) }
            if s.connections >= limits.maxConnections {
                s.counters.refusedAtCapacity += 1
                return (false, nil)
            }
            if s.connectionsByAddress[address, default: 0] >= limits.maxConnectionsPerAddress
                || s.handshakesByAddress[address, default: 0] >= limits.maxHandshakesPerAddress {
                s.counters.refusedPerAddress += 1
                return (false, nil)
            }
            var evicted: (any Channel)?
            if s.handshakes >= limits.maxHandshakes {
                // Every slot is taken, typically by half-open connections from many addresses:
                // close the oldest inbound handshake rather than refuse the newcomer, so holding
                // the slots takes a fresh connection per slot every few milliseconds, not one per
                // handshake timeout. Evictions still closing count against a hard cap of twice the slots.
                guard s.handshakes < 2 * limits.maxHandshakes,
                      let oldest = s.pendingHandshakes.min(by: { $0.value.since < $1.value.since }) else {
                    s.counters.refusedHandshakes += 1
                    return (false, nil)
                }
                s.pendingHandshakes[oldest.key] = nil
                s.counters.handshakesEvicted += 1
                evicted = oldest.value.channel
            }
            s.connections += 1
            s.handshakes += 1
            s.connectionsByAddress[address, default: 0] += 1
            s.handshakesByAddress[address, default: 0] += 1
            s.pendingHandshakes[ObjectIdentifier(channel)] = (NIODeadline.now(), channel)
            s.counters.accepted += 1
            return (true, evicted)
        }
        evicted?.close(promise: nil)
        guard admitted else {
            logger.notice("refusing connection: at capacity", metadata: ["from": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
            return channel.close()
        }
        return addHandlers(to: channel, role: .responder, inboundAddress: address, promise: channel.eventLoop.makePromise())
    }

    private func addHandlers(to channel: any Channel, role: SecureSession.Role, inboundAddress: String? = nil,
                             promise: EventLoopPromise<PeerConnection>) -> EventLoopFuture<Void> {
        let credentials = state.withLockedValue { $0.credentials }
        let limits = self.limits
        let logger = self.logger
        return channel.eventLoop.makeCompletedFuture {
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout, writeTimeout: limits.keepAliveInterval))
            try ops.addHandler(SessionHandler(role: role, credentials: credentials, transport: self, logger: logger,
                                              inboundAddress: inboundAddress, established: promise))
        }
    }

    /// Dials `host:port` (from the local address `source` when given); when `expected` is given
    /// the responder must prove exactly that identity. Returns the session (an existing one if the
    /// pair already had one).
    public func dial(host: String, port: Int, expected: Identity?, from source: String? = nil) async throws -> PeerConnection {
        let admitted: Bool = state.withLockedValue { s in
            guard !s.closed, s.connections < limits.maxConnections else { return false }
            s.connections += 1
            s.handshakes += 1
            s.counters.dialled += 1
            return true
        }
        guard admitted else { throw TransportError("the node is at its connection limit (\(limits.maxConnections))") }
        // The session's promise lives on the channel's own event loop, so it is always completed
        // there (the handler fails it when the channel closes, also while the loop shuts down).
        let established = NIOLockedValueBox<EventLoopFuture<PeerConnection>?>(nil)
        var bootstrap = ClientBootstrap(group: eventLoopGroup)
        if let source {
            do { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) } catch {
                state.withLockedValue { s in
                    s.connections -= 1
                    s.handshakes -= 1
                }
                throw TransportError("cannot dial from \(source): not a local IP address")
            }
        }
        bootstrap = bootstrap
            .connectTimeout(limits.handshakeTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: Self.receiveBuffers)
            .channelOption(.writeBufferWaterMark, value: Self.writeBuffer)
            .channelInitializer { [self] channel in
                let promise = channel.eventLoop.makePromise(of: PeerConnection.self)
                established.withLockedValue { $0 = promise.futureResult }
                return self.addHandlers(to: channel, role: .initiator(expected: expected), promise: promise).flatMapErrorThrowing { error in
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
                s.handshakes -= 1
            }
            throw TransportError("cannot reach \(host):\(port): \(Self.plainWords(error))")
        }
        do {
            return try await session.get()
        } catch SessionError.closed where expected != nil {
            // When both sides dial at once, the peer closes one of the two connections; the
            // session then lives on the other one, which may still be finishing its hello.
            if let existing = await awaitSession(with: expected!) { return existing }
            throw TransportError("the connection to \(host):\(port) closed during the handshake")
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

    func handshakeEnded(_ channel: any Channel, inboundAddress: String?) {
        state.withLockedValue { s in
            s.handshakes -= 1
            s.pendingHandshakes[ObjectIdentifier(channel)] = nil
            if let inboundAddress { Self.decrement(&s.handshakesByAddress, inboundAddress) }
        }
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        let left = counts[key, default: 0] - 1
        counts[key] = left > 0 ? left : nil
    }

    /// Registers an established session; keeps one per peer. Returns the session that stays.
    func register(_ conn: PeerConnection) -> PeerConnection {
        let me = identity
        let (winner, loser): (PeerConnection, PeerConnection?) = state.withLockedValue { s in
            s.counters.established += 1
            guard let existing = s.sessions[conn.peer], existing.isActive else {
                s.sessions[conn.peer] = conn
                return (conn, nil)
            }
            // Both sides apply the same rule: keep the session dialled by the bytewise smaller
            // identity; between two dialled by the same side, keep the newer.
            func dialler(_ c: PeerConnection) -> Identity { c.weDialled ? me : c.peer }
            let keepNew = dialler(existing) == dialler(conn) || dialler(conn) < dialler(existing)
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
            continuation.yield(.connected(conn))
        }
        return winner
    }

    func connectionClosed(_ conn: PeerConnection?, inboundAddress: String?, reason: String) {
        let wasRegistered: Bool = state.withLockedValue { s in
            s.connections -= 1
            if let inboundAddress { Self.decrement(&s.connectionsByAddress, inboundAddress) }
            guard let conn, s.sessions[conn.peer] == conn else { return false }
            s.sessions[conn.peer] = nil
            return true
        }
        if wasRegistered, let conn { continuation.yield(.disconnected(conn, reason: reason)) }
    }

    func deliver(_ event: TransportEvent) {
        continuation.yield(event)
    }

    /// Closes the listener and every connection, and ends ``events``.
    public func shutdown() async {
        let (listener, sessions): ((any Channel)?, [PeerConnection]) = state.withLockedValue { s in
            s.closed = true
            return (s.listener, Array(s.sessions.values))
        }
        try? await listener?.close()
        for conn in sessions { try? await conn.channel.close() }
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
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
