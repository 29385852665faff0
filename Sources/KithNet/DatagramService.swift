import Foundation
public import KithCrypto
public import KithModel
public import KithProtocol
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// Kith's UDP side: binds a socket, signs outgoing datagrams, and passes incoming ones through a
/// ``DatagramFilter`` before reporting them.
public final class DatagramService: Sendable {
    /// Accepted datagrams with the address they came from.
    public let events: AsyncStream<(datagram: Datagram, host: String, port: Int)>
    private let continuation: AsyncStream<(datagram: Datagram, host: String, port: Int)>.Continuation
    private let signing: Ed25519.KeyPair
    private let network: NetworkID
    private let group: any EventLoopGroup
    private let logger: Logger
    private let filter: NIOLockedValueBox<DatagramFilter>
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let clock: WallClock

    /// Accepted datagrams waiting for the node at most; beyond, they are dropped (counted
    /// `dropped_queue_full`).
    public static let queueLimit = 1_024
    private let queueDrops = NIOLockedValueBox(0)

    /// Creates the service; nothing is bound until ``bind(host:port:broadcast:)``.
    public init(signing: Ed25519.KeyPair, network: NetworkID, group: any EventLoopGroup, logger: Logger, clock: WallClock = .system) {
        // Bounded like a socket buffer: when the node falls behind, newer datagrams are dropped.
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(Self.queueLimit))
        self.clock = clock
        self.signing = signing
        self.network = network
        self.group = group
        self.logger = logger
        filter = NIOLockedValueBox(DatagramFilter(network: network, me: Identity(publicKey: signing.publicKey)))
    }

    /// Binds the socket; returns the bound address.
    public func bind(host: String, port: Int, broadcast: Bool = false) async throws -> (host: String, port: Int) {
        var bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler(service: self))
                }
            }
        if broadcast { bootstrap = bootstrap.channelOption(.socketOption(.so_broadcast), value: 1) }
        let bound = try await bootstrap.bind(host: host, port: port).get()
        channel.withLockedValue { $0 = bound }
        return (bound.localAddress?.ipAddress ?? host, bound.localAddress?.port ?? port)
    }

    /// Signs and sends a datagram of `kind` to `host:port`. Errors are logged, not thrown: UDP
    /// is best effort.
    public func send(_ kind: Datagram.Kind, toHost host: String, port: Int) {
        guard let channel = channel.withLockedValue({ $0 }) else { return }
        let packet = Datagram(from: Identity(publicKey: signing.publicKey), net: network,
                              ts: clock.now(), kind: kind).packet(signedWith: signing)
        do {
            let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
            let envelope = AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: packet))
            channel.writeAndFlush(envelope).whenFailure { [logger] error in
                logger.debug("datagram not sent", metadata: ["to": "\(host):\(port)", "error": "\(error)"])
            }
        } catch {
            logger.debug("bad datagram address", metadata: ["to": "\(host):\(port)", "error": "\(error)"])
        }
    }

    /// Accepted count and drops by reason.
    public var counters: [String: Int] {
        filter.withLockedValue { f in
            var out = f.dropped.mapKeys { "dropped_\($0)" }
            out["accepted"] = f.accepted
            return out
        }.merging(["dropped_queue_full": queueDrops.withLockedValue { $0 }].filter { $0.value > 0 }) { a, _ in a }
    }

    func receive(_ bytes: [UInt8], host: String, port: Int) {
        let result = filter.withLockedValue { $0.accept(bytes, from: host, now: clock.now()) }
        switch result {
        case .success(let datagram):
            if case .dropped = continuation.yield((datagram, host, port)) { queueDrops.withLockedValue { $0 += 1 } }
        case .failure(let error): logger.debug("dropped datagram", metadata: ["from": "\(host):\(port)", "reason": "\(error)"])
        }
    }

    /// Closes the socket and ends ``events``.
    public func shutdown() async {
        let bound = channel.withLockedValue { $0 }
        try? await bound?.close()
        continuation.finish()
    }
}

private final class DatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let service: DatagramService

    init(service: DatagramService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        let bytes = envelope.data.readBytes(length: envelope.data.readableBytes) ?? []
        service.receive(bytes, host: envelope.remoteAddress.ipAddress ?? "?", port: envelope.remoteAddress.port ?? 0)
    }
}

extension Dictionary {
    func mapKeys<K: Hashable>(_ transform: (Key) -> K) -> [K: Value] {
        Dictionary<K, Value>(uniqueKeysWithValues: map { (transform($0.key), $0.value) })
    }
}
