public import KithModel
public import KithProtocol
import NIOConcurrencyHelpers
import NIOCore

/// An established session with a proven peer. Safe to use from any task.
public final class PeerConnection: Sendable, Hashable, CustomStringConvertible {
    /// A number unique within this process.
    public let id: UInt64
    /// The peer's proven identity.
    public let peer: Identity
    /// True when this node dialled.
    public let weDialled: Bool
    /// The peer's address as seen by the socket, like `127.0.0.1:7400` or `[::1]:7400` (a relay's,
    /// when relayed).
    public let remoteAddress: String
    /// This node's end of the socket, like `10.0.0.2:7400`.
    public let localAddress: String
    /// The relay (`HOST:PORT`) when the session runs through a circuit; nil when direct.
    public let relayedVia: String?
    /// True when the session runs through a relay.
    public var isRelayed: Bool { relayedVia != nil }
    let channel: any Channel
    /// The channel's handler, weakly: a connection kept after its channel closed must not keep
    /// the handler (and through it the channel and its buffers) alive.
    let handler: NIOLoopBound<WeakHandler>
    /// Encoded messages waiting for the event loop, which encrypts and writes them in one batch.
    let outbox = NIOLockedValueBox(Outbox())

    struct Outbox {
        var messages: [[UInt8]] = []
        var bytes = 0
        var drainScheduled = false
    }

    /// Queued bytes beyond which a sender waits for the queue to be written.
    static let outboxLimit = 1 << 20

    init(id: UInt64, peer: Identity, weDialled: Bool, remoteAddress: String, localAddress: String, relayedVia: String?,
         channel: any Channel, handler: NIOLoopBound<WeakHandler>) {
        self.id = id
        self.peer = peer
        self.weDialled = weDialled
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.relayedVia = relayedVia
        self.channel = channel
        self.handler = handler
    }

    /// Sends `message`. Messages from one caller go out in order. Sends are
    /// pipelined: this returns once the message is queued for the event loop, and waits for the
    /// queue to be written only when more than ``outboxLimit`` bytes are queued or the socket's
    /// buffer is above its high-water mark (backpressure).
    /// Throws when the session is closed or the message is too big.
    public func send(_ message: PeerMessage) async throws {
        // Encode here, off the event loop; the loop only encrypts and writes.
        let plaintext = message.encoded()
        guard plaintext.count <= SecureSession.maxMessage else {
            throw SessionError.protocolViolation("a \(message.type) message of \(plaintext.count) bytes exceeds \(SecureSession.maxMessage)")
        }
        guard channel.isActive else { throw SessionError.closed }
        let handler = self.handler, outbox = self.outbox, loop = channel.eventLoop
        // Queue it; only the first message of a batch wakes the event loop.
        let (wake, queued) = outbox.withLockedValue { box in
            box.messages.append(plaintext)
            box.bytes += plaintext.count
            defer { box.drainScheduled = true }
            return (!box.drainScheduled, box.bytes)
        }
        if wake { channel.eventLoop.execute { handler.value.drain(outbox, on: loop).whenFailure { _ in } } }
        if queued > Self.outboxLimit || !channel.isWritable {
            // Backpressure: wait until everything queued so far has been written.
            try await channel.eventLoop.flatSubmit { handler.value.drain(outbox, on: loop) }.get()
        }
    }

    /// Closes the connection.
    public func close() {
        channel.close(promise: nil)
    }

    /// True while the socket is open.
    public var isActive: Bool { channel.isActive }

    public static func == (lhs: PeerConnection, rhs: PeerConnection) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
    public var description: String { "\(peer.did.suffix(8))#\(id)@\(remoteAddress)\(relayedVia == nil ? "" : " (relayed)")" }
}

/// A weak reference to a channel's ``SessionHandler`` (used on its event loop only).
final class WeakHandler {
    weak var handler: SessionHandler?
    init(_ handler: SessionHandler) { self.handler = handler }

    /// Writes what `outbox` holds, or fails when the handler is gone (the channel closed).
    func drain(_ outbox: NIOLockedValueBox<PeerConnection.Outbox>, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let handler else { return loop.makeFailedFuture(SessionError.closed) }
        return handler.drain(outbox)
    }
}
