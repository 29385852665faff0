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
    private var wasCountedAsHandshake = true
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
    /// The remote IP address an inbound connection was admitted under (per-address limits).
    private let inboundAddress: String?

    init(role: SecureSession.Role, credentials: SessionCredentials, transport: Transport, logger: Logger,
         inboundAddress: String?, established: EventLoopPromise<PeerConnection>) {
        self.inboundAddress = inboundAddress
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
        handle(session.start(), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        handle(session.receive(buffer.readableBytesView, now: transport.clock.now()), context: context)
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
        session.close()
        if wasCountedAsHandshake {
            wasCountedAsHandshake = false
            transport.handshakeEnded(context.channel, inboundAddress: inboundAddress)
        }
        transport.connectionClosed(connection, inboundAddress: inboundAddress, reason: closeReason)
        established.fail(SessionError.closed)
        context.fireChannelInactive()
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
                if wasCountedAsHandshake {
                    wasCountedAsHandshake = false
                    transport.handshakeEnded(context.channel, inboundAddress: inboundAddress)
                }
                let weDialled = if case .initiator = session.role { true } else { false }
                let address = context.channel.remoteAddress.flatMap { addr in addr.ipAddress.map { "\($0):\(addr.port ?? 0)" } } ?? "?"
                let conn = PeerConnection(id: transport.nextConnectionID(), peer: peer, weDialled: weDialled, remoteAddress: address,
                                          channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
                connection = conn
                logger.debug("session established", metadata: ["peer": "\(conn)"])
                let winner = transport.register(conn)
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
                case .message(let message): transport.deliver(.message(connection, message))
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
