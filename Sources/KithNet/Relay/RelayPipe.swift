import NIOConcurrencyHelpers
import NIOCore

/// What two halves of one circuit share: the bytes carried so far, against the limit.
final class RelayCircuit: Sendable {
    let id: [UInt8]
    private let carried = NIOLockedValueBox(0)
    let byteLimit: Int

    init(id: [UInt8], byteLimit: Int) {
        self.id = id
        self.byteLimit = byteLimit
    }

    /// Counts `bytes` more; false once the circuit carried more than its limit.
    func carry(_ bytes: Int) -> Bool {
        carried.withLockedValue { total in
            total += bytes
            return total <= byteLimit
        }
    }

    var bytesCarried: Int { carried.withLockedValue { $0 } }
}

/// One half of a relay circuit: copies what its connection reads to the other half's
/// connection, unread and unchanged (the two ends run their own Noise session through it). It
/// holds what arrives before the other half joins (at most one frame's worth), stops reading
/// while the other side cannot take more (backpressure), and closes both halves when either
/// closes, idles out, or the circuit exceeds its byte limit.
final class RelayPipe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Shared by both halves once joined (see ``join(_:sharing:)``).
    private(set) var circuit: RelayCircuit
    private var partner: (any Channel)?
    private var held: [ByteBuffer] = []
    private var heldBytes = 0
    private var context: ChannelHandlerContext?
    /// Most bytes held before the other half joins: a Noise message 1 and a little more.
    static let holdLimit = 70_000

    init(circuit: RelayCircuit, leftover: [UInt8]) {
        self.circuit = circuit
        if !leftover.isEmpty {
            held.append(ByteBuffer(bytes: leftover))
            heldBytes = leftover.count
        }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Joins the other half (on this channel's event loop): what was held goes first. The half
    /// that joins counts its bytes in the circuit of the half that waited (`sharing`), so the
    /// byte limit holds for both directions together.
    func join(_ other: any Channel, sharing shared: RelayCircuit? = nil) {
        guard let context else { return other.close(promise: nil) }
        if let shared { circuit = shared }
        partner = other
        for buffer in held { forward(buffer, context: context) }
        held = []
        heldBytes = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard partner != nil else {
            heldBytes += buffer.readableBytes
            guard heldBytes <= Self.holdLimit else { return context.close(promise: nil) }
            held.append(buffer)
            return
        }
        forward(buffer, context: context)
    }

    private func forward(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard let partner else { return }
        guard circuit.carry(buffer.readableBytes) else {
            partner.close(promise: nil)
            return context.close(promise: nil)
        }
        partner.writeAndFlush(buffer, promise: nil)
        // The other side's socket is full: stop reading until it drains (see below).
        if !partner.isWritable { context.channel.setOption(.autoRead, value: false).whenFailure { _ in } }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.setOption(.autoRead, value: true).whenFailure { _ in } }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.close(promise: nil)
        partner = nil
        held = []
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The ends ping each other through the circuit; one that stays silent has gone.
        if case .read? = event as? IdleStateHandler.IdleStateEvent { return context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
