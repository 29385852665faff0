import Foundation
import KithCBOR
import KithModel
import KithProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Drives one ``SecureSession`` on a channel: bytes in, bytes and events out. It only shuttles
/// bytes; every protocol decision lives in the state machine.
final class SessionHandler: ChannelInboundHandler {
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
    /// For a dial that came back after a retry: the cookie to present first.
    private let cookie: [UInt8]?
    /// Bytes held until the first frame is whole, so admission frames can be told apart.
    private var preamble: [UInt8] = []
    private var firstFrameSeen = false
    private var strangerCheck: RepeatedTask?
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
         inbound: InboundAdmission?, cookie: [UInt8]?, established: EventLoopPromise<PeerConnection>) {
        self.inbound = inbound
        self.cookie = cookie
        self.session = SecureSession(role: role, credentials: credentials)
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
        let limit = transport.limits.handshakeTimeout
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: limit) {
            let (handler, context) = loopBound.value
            guard !handler.session.isEstablished else { return }
            handler.transport.count { $0.handshakeTimeouts += 1 }
            handler.fail(context: context, reason: "handshake timed out")
        }
        if let cookie {
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: RetryFrame.frame(RetryFrame.cookieTag, cookie))), promise: nil)
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
        preamble += bytes
        guard preamble.count >= 2 else { return }
        let length = Int(preamble[0]) << 8 | Int(preamble[1])
        guard preamble.count >= 2 + length else { return }
        let body = preamble[2..<(2 + length)]
        firstFrameSeen = true
        var rest = preamble
        preamble = []
        if let inbound {
            if let presented = RetryFrame.cookie(in: body, tag: RetryFrame.cookieTag) {
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
        }
        guard !rest.isEmpty else { return }
        handle(session.receive(rest, now: transport.clock.now()), context: context)
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
    private func watchIdleStranger(context: ChannelHandlerContext) {
        guard let inbound else { return }
        let interval = TimeAmount.nanoseconds(max(transport.limits.strangerIdleTimeout.nanoseconds / 3, 1_000_000))
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        strangerCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            guard handler.transport.isIdleStranger(inbound.id) else { return }
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
                let weDialled = if case .initiator = session.role { true } else { false }
                let address = context.channel.remoteAddress.flatMap { addr in addr.ipAddress.map { "\($0):\(addr.port ?? 0)" } } ?? "?"
                let conn = PeerConnection(id: transport.nextConnectionID(), peer: peer, weDialled: weDialled, remoteAddress: address,
                                          channel: context.channel, handler: NIOLoopBound(WeakHandler(self), eventLoop: context.eventLoop))
                guard let winner = transport.register(conn, inbound: inbound) else {
                    established.fail(SessionError.closed)
                    if wrote { context.flush() }
                    return fail(context: context, reason: "no room for another stranger's session")
                }
                connection = conn
                logger.debug("session established", metadata: ["peer": "\(conn)"])
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
                    if let inbound, !message.isUnknown { transport.active(inbound.id) }
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
