import Foundation
import KithCBOR
import KithModel
import KithProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Drives one ``SecureSession`` on a channel: bytes in, bytes and events out. It only shuttles
/// bytes; every protocol decision lives in the state machine.
final class SessionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SecureSession
    private let transport: Transport
    private let logger: Logger
    private var connection: PeerConnection?
    private var timeout: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var closeReason = "closed"
    /// Completed when the session is established (or fails); used by dialling.
    let established: EventLoopPromise<PeerConnection>
    /// For an inbound connection: what it was admitted as (its budgets are counted there).
    private let inbound: InboundAdmission?
    /// A frame to send before the handshake: a retry cookie, a relay request or join.
    private let preamble: [UInt8]?
    /// The relay this connection goes through, if any.
    private let relayedVia: String?
    /// Bytes held until the first frame is whole, so admission and relay frames can be told apart.
    private var firstBytes: [UInt8] = []
    private var firstFrameSeen = false
    private var strangerCheck: RepeatedTask?
    /// When the peer last sent a message of a known kind (pings aside).
    private var lastActive = NIODeadline.now()
    /// Token bucket for the peer's message rate.
    private lazy var messageTokens = transport.limits.messageBurst
    private var tokensRefilledAt = NIODeadline.now()

    /// Takes one message token; false when the peer has sent faster than the limit for too long.
    private func takeMessageToken() -> Bool {
        let limits = transport.limits
        guard limits.messagesPerSecond.isFinite else { return true }
        let now = NIODeadline.now()
        let elapsed = Double((now - tokensRefilledAt).nanoseconds) / 1e9
        tokensRefilledAt = now
        messageTokens = min(limits.messageBurst, messageTokens + elapsed * limits.messagesPerSecond)
        guard messageTokens >= 1 else { return false }
        messageTokens -= 1
        return true
    }

    /// The future of the most recent application write, for backpressure.
    private var lastWrite: EventLoopFuture<Void>?

    init(role: SecureSession.Role, credentials: SessionCredentials, transport: Transport, logger: Logger,
         inbound: InboundAdmission?, preamble: [UInt8]?, relayedVia: String?, simultaneousOpen: Bool = false,
         established: EventLoopPromise<PeerConnection>) {
        self.inbound = inbound
        self.preamble = preamble
        self.relayedVia = relayedVia
        self.session = SecureSession(role: role, credentials: credentials, simultaneousOpen: simultaneousOpen)
        self.transport = transport
        self.logger = logger
        self.established = established
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // The connection refers back to this handler: let both go.
        connection = nil
        // A channel that never became active (a failed connect) gets no channelInactive.
        established.fail(SessionError.closed)
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard timeout == nil else { return }
        // A dial through a relay first waits for the friend to join the circuit (the relay
        // answers within its join timeout): the handshake's own time starts after that.
        let asksRelay = preamble.map { $0.count > 2 && $0[2] == RelayFrame.requestTag } ?? false
        let limit = transport.limits.handshakeTimeout + (asksRelay ? transport.limits.relay.joinTimeout : .zero)
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: limit) {
            let (handler, context) = loopBound.value
            guard !handler.session.isEstablished else { return }
            handler.transport.count { $0.handshakeTimeouts += 1 }
            handler.fail(context: context, reason: "handshake timed out")
        }
        if let preamble {
            // Flushed at once: a responder that joins a circuit sends nothing after it.
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: preamble)), promise: nil)
        }
        handle(session.start(), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard firstFrameSeen else { return readFirstFrame(Array(buffer.readableBytesView), context: context) }
        handle(session.receive(buffer.readableBytesView, now: transport.clock.now()), context: context)
    }

    /// Holds bytes until the first frame is whole, then settles admission: an inbound connection
    /// that shows a valid cookie is proven; one that starts its handshake without a cookie while
    /// the node is under load gets a retry cookie and is closed (no key exchange is spent on it);
    /// a dial answered with a retry comes back with the cookie.
    private func readFirstFrame(_ bytes: [UInt8], context: ChannelHandlerContext) {
        firstBytes += bytes
        guard firstBytes.count >= 2 else { return }
        let length = Int(firstBytes[0]) << 8 | Int(firstBytes[1])
        guard firstBytes.count >= 2 + length else { return }
        let body = firstBytes[2..<(2 + length)]
        firstFrameSeen = true
        var rest = firstBytes
        firstBytes = []
        if let inbound {
            if let target = RelayFrame.target(in: body) {
                return openCircuit(to: target, leftover: Array(rest.dropFirst(2 + length)), inbound: inbound, context: context)
            } else if let circuit = RelayFrame.circuit(in: body) {
                return joinCircuit(circuit, leftover: Array(rest.dropFirst(2 + length)), inbound: inbound, context: context)
            } else if let presented = RetryFrame.cookie(in: body, tag: RetryFrame.cookieTag) {
                guard transport.isValidCookie(presented, for: inbound.ip) else { return fail(context: context, reason: "an invalid cookie") }
                transport.proven(inbound.id)
                rest.removeFirst(2 + length)
            } else if transport.underLoad(inbound.network) {
                transport.count { $0.retries += 1 }
                let retry = RetryFrame.frame(RetryFrame.retryTag, transport.currentCookie(for: inbound.ip))
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: retry)), promise: nil)
                return fail(context: context, reason: "under load: handed a retry cookie")
            }
        } else if let handed = RetryFrame.cookie(in: body, tag: RetryFrame.retryTag) {
            established.fail(RetryRequested(cookie: handed))
            return fail(context: context, reason: "the responder asked for a retry")
        } else if let refusal = RelayFrame.refusal(in: body) {
            established.fail(RelayRefused(reason: refusal))
            return fail(context: context, reason: "the relay refused: \(refusal)")
        }
        guard !rest.isEmpty else { return }
        handle(session.receive(rest, now: transport.clock.now()), context: context)
    }

    /// This node relays: the connection asks for a circuit to `target`. Accepted, the connection
    /// stops being a session and becomes one half of a circuit (its bytes go, unread, to the
    /// connection the friend opens); refused, it gets the reason and is closed.
    private func openCircuit(to target: Identity, leftover: [UInt8], inbound: InboundAdmission, context: ChannelHandlerContext) {
        let pipe = RelayPipe(circuit: RelayCircuit(id: [], byteLimit: transport.limits.relay.bytesPerCircuit), leftover: leftover)
        if let refusal = transport.requestCircuit(to: target, channel: context.channel, pipe: pipe, inbound: inbound) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: RelayFrame.refusal(refusal))), promise: nil)
            return fail(context: context, reason: "a circuit refused: \(refusal)")
        }
        becomePipe(pipe, context: context)
    }

    /// The friend joins a circuit someone asked this node for.
    private func joinCircuit(_ circuit: [UInt8], leftover: [UInt8], inbound: InboundAdmission, context: ChannelHandlerContext) {
        let pipe = RelayPipe(circuit: RelayCircuit(id: circuit, byteLimit: transport.limits.relay.bytesPerCircuit), leftover: leftover)
        let channel = context.channel
        guard transport.joinCircuit(circuit, channel: channel, pipe: pipe, inbound: inbound, install: { becomePipe(pipe, context: context) }) else {
            transport.count { $0.failures += 1 }
            return fail(context: context, reason: "a join for a circuit nobody asked for")
        }
    }

    private func becomePipe(_ pipe: RelayPipe, context: ChannelHandlerContext) {
        timeout?.cancel()
        let channel = context.channel
        do {
            try channel.pipeline.syncOperations.addHandler(pipe, position: .after(self))
        } catch {
            return fail(context: context, reason: "cannot make a circuit: \(error)")
        }
        let removed = context.eventLoop.makePromise(of: Void.self)
        removed.futureResult.whenFailure { _ in channel.close(promise: nil) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: removed)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent {
            switch idle {
            case .read:
                transport.count { $0.idleTimeouts += 1 }
                fail(context: context, reason: "idle for too long")
            case .write:
                if session.isEstablished { sendMessage(.ping).whenFailure { _ in } }
            case .all:
                break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        strangerCheck?.cancel()
        session.close()
        transport.connectionClosed(connection, inbound: inbound, reason: closeReason)
        if inbound == nil, !firstFrameSeen {
            // Closed before the responder answered at all (a flood pushed it out): no session of
            // the pair can live on this dial; try again.
            established.fail(ClosedEarly(message: "no answer"))
        }
        established.fail(SessionError.closed)
        context.fireChannelInactive()
    }

    /// An inbound stranger's session that sends nothing but pings for
    /// ``TransportLimits/strangerIdleTimeout`` is closed (friends' sessions only by the idle timeout).
    /// The node's end of a circuit it joined for a relay is a connection it dialled, outside the
    /// inbound budgets: a stranger's session there is watched the same way, by its own clock.
    private func watchIdleStranger(context: ChannelHandlerContext) {
        let joinedCircuit = inbound == nil && relayedVia != nil && !session.isInitiator
        guard inbound != nil || joinedCircuit, let peer = connection?.peer else { return }
        let limit = transport.limits.strangerIdleTimeout
        let interval = TimeAmount.nanoseconds(max(limit.nanoseconds / 3, 1_000_000))
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        strangerCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            let idle = if let inbound = handler.inbound { handler.transport.isIdleStranger(inbound.id) }
                else { !handler.transport.isFriend(peer) && NIODeadline.now() - handler.lastActive >= limit }
            guard idle else { return }
            handler.transport.count { $0.strangersClosed += 1 }
            handler.fail(context: context, reason: "a stranger's idle session")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, reason: "socket error: \(error)")
    }

    private func fail(context: ChannelHandlerContext, reason: String) {
        closeReason = reason
        logger.info("closing connection", metadata: ["peer": "\(connection?.description ?? remote(context))", "reason": "\(reason)"])
        context.close(promise: nil)
    }

    private func remote(_ context: ChannelHandlerContext) -> String {
        context.channel.remoteAddress.map { "\($0)" } ?? "?"
    }

    private func handle(_ events: [SecureSession.Event], context: ChannelHandlerContext) {
        var wrote = false
        for event in events {
            switch event {
            case .send(let bytes):
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                wrote = true
            case .established(let peer):
                timeout?.cancel()
                let weDialled = session.isInitiator
                // `HOST:PORT` as endpoints write it (an IPv6 host in brackets).
                func text(_ address: SocketAddress?) -> String {
                    address.flatMap { a in a.ipAddress.map { $0.contains(":") ? "[\($0)]:\(a.port ?? 0)" : "\($0):\(a.port ?? 0)" } } ?? "?"
                }
                let conn = PeerConnection(id: transport.nextConnectionID(), peer: peer, weDialled: weDialled,
                                          remoteAddress: text(context.channel.remoteAddress), localAddress: text(context.channel.localAddress),
                                          relayedVia: relayedVia, channel: context.channel,
                                          handler: NIOLoopBound(WeakHandler(self), eventLoop: context.eventLoop))
                guard let winner = transport.register(conn, inbound: inbound) else {
                    established.fail(SessionError.closed)
                    if wrote { context.flush() }
                    return fail(context: context, reason: "no room for another stranger's session")
                }
                connection = conn
                logger.debug("session established", metadata: ["peer": "\(conn)"])
                lastActive = NIODeadline.now()
                watchIdleStranger(context: context)
                established.succeed(winner)
            case .message, .malformed:
                guard let connection else { continue }
                guard takeMessageToken() else {
                    transport.count { $0.closedForFlooding += 1 }
                    if wrote { context.flush() }
                    fail(context: context, reason: "sending more than \(Int(transport.limits.messagesPerSecond)) messages/s")
                    return
                }
                switch event {
                case .message(.ping): continue
                case .message(let message):
                    // Only messages of known kinds keep a stranger's session from idling out.
                    if !message.isUnknown {
                        lastActive = NIODeadline.now()
                        if let inbound { transport.active(inbound.id) }
                    }
                    transport.deliver(.message(connection, message))
                case .malformed(let error): transport.deliver(.malformed(connection, error))
                default: break
                }
            case .failed(let error):
                transport.count { $0.failures += 1 }
                if wrote { context.flush() }
                established.fail(error)
                fail(context: context, reason: error.description)
                return
            }
        }
        if wrote { context.flush() }
        if connection != nil, transport.isBacklogged {
            // The node is behind with what sessions delivered: stop reading (the peer's sends
            // wait in the sockets) until it catches up.
            try? context.channel.syncOptions?.setOption(.autoRead, value: false)
            transport.pausedReading(context.channel)
        }
    }

    /// Encrypts and writes one application message (the keep-alive ping).
    func sendMessage(_ message: PeerMessage) -> EventLoopFuture<Void> {
        guard let context else { return transport.eventLoopGroup.any().makeFailedFuture(SessionError.closed) }
        let future = write(message.encoded(), context: context)
        context.flush()
        return future
    }

    /// Encrypts and writes every message waiting in `outbox`, flushing once; the future
    /// completes when the last write so far (queued now or earlier) is done.
    func drain(_ outbox: NIOLockedValueBox<PeerConnection.Outbox>) -> EventLoopFuture<Void> {
        let messages = outbox.withLockedValue { box in
            box.drainScheduled = false
            box.bytes = 0
            defer { box.messages = [] }
            return box.messages
        }
        guard let context else { return transport.eventLoopGroup.any().makeFailedFuture(SessionError.closed) }
        guard !messages.isEmpty else { return lastWrite ?? context.eventLoop.makeSucceededVoidFuture() }
        for plaintext in messages {
            lastWrite = write(plaintext, context: context)
        }
        context.flush()
        return lastWrite ?? context.eventLoop.makeSucceededVoidFuture()
    }

    private func write(_ plaintext: [UInt8], context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        do {
            let size = SecureSession.frameSize(plaintext: plaintext.count)
            var buffer = context.channel.allocator.buffer(capacity: size)
            try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                try session.sendRaw(plaintext, into: UnsafeMutableRawBufferPointer(rebasing: out[..<size]))
                return size
            }
            return context.write(wrapOutboundOut(buffer))
        } catch {
            fail(context: context, reason: "\(error)")
            return context.eventLoop.makeFailedFuture(error)
        }
    }
}
