public import KithDHT
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// Drives a ``DHTNode`` on a UDP socket: feeds it datagrams and a 250 ms tick, sends what it
/// asks, and turns finished lookups into async results.
public final class DHTService: Sendable {
    private let node: NIOLockedValueBox<DHTNode>
    private let waiting = NIOLockedValueBox(Waiting())
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)
    private let ticker = NIOLockedValueBox<RepeatedTask?>(nil)
    private let group: any EventLoopGroup
    private let logger: Logger

    /// A service for a node with `id` (random by default); nothing is bound until ``bind(host:port:)``.
    public init(id: NodeID = .random(), configuration: DHTNode.Configuration = .init(), group: any EventLoopGroup, logger: Logger) {
        node = NIOLockedValueBox(DHTNode(id: id, configuration: configuration, now: Self.now()))
        self.group = group
        self.logger = logger
    }

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000 }

    /// Callers waiting for lookups, and results that came before their caller was registered.
    /// Lookups are started under this lock (then the node's), and finished outside the node's:
    /// no result is lost between the two, and none is kept for a lookup nobody waits for.
    private struct Waiting {
        var waiters: [DHTNode.LookupID: CheckedContinuation<DHTNode.Outcome, Never>] = [:]
        var early: [DHTNode.LookupID: DHTNode.Outcome] = [:]
        /// Lookups a caller started and will wait for.
        var expected: Set<DHTNode.LookupID> = []
        var closed = false
    }

    /// Binds the UDP socket (exclusively: a port in use is an error, not a shared socket) and
    /// starts the tick; returns the bound address.
    public func bind(host: String, port: Int) async throws -> (host: String, port: Int) {
        let bound = try await DatagramBootstrap(group: group)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DHTHandler(service: self))
                }
            }
            .bind(host: host, port: port).get()
        channel.withLockedValue { $0 = bound }
        if let port = bound.localAddress?.port { node.withLockedValue { $0.setLocalPort(UInt16(port)) } }
        let task = bound.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { [weak self] _ in
            guard let self else { return }
            let actions = node.withLockedValue { $0.tick(now: Self.now()) }
            perform(actions)
        }
        ticker.withLockedValue { $0 = task }
        return (bound.localAddress?.ipAddress ?? host, bound.localAddress?.port ?? port)
    }

    /// This node's id.
    public var id: NodeID { node.withLockedValue { $0.id } }
    /// Nodes in the routing table.
    public var routingTableSize: Int { node.withLockedValue { $0.table.count } }
    /// Traffic and serving counters.
    public var statistics: DHTNode.Statistics { node.withLockedValue { $0.statistics } }
    /// Items held for others.
    public var storedItemCount: Int { node.withLockedValue { $0.storedItemCount } }
    /// The address other nodes see this one at, when one said.
    public var observedAddress: DHTAddress? { node.withLockedValue { $0.observedAddress } }

    /// Switches BEP 43 read-only mode.
    public func setReadOnly(_ readOnly: Bool) { node.withLockedValue { $0.configuration.readOnly = readOnly } }
    /// Whether the node is in BEP 43 read-only mode.
    public var isReadOnly: Bool { node.withLockedValue { $0.configuration.readOnly } }
    /// Whether two nodes saw this one behind a port-rewriting NAT (see ``DHTNode/portIsRewritten``).
    public var portIsRewritten: Bool { node.withLockedValue { $0.portIsRewritten } }

    /// Joins through `addresses`: a lookup of our own id; returns the closest nodes found.
    @discardableResult
    public func bootstrap(_ addresses: [DHTAddress]) async -> [Contact] {
        let outcome = await run { node, now in
            node.setBootstrap(addresses)
            return node.findNode(node.id, now: now)
        }
        if case .nodes(let nodes) = outcome { return nodes }
        return []
    }

    /// The newest valid item under `key` and `salt`, and how many nodes answered.
    public func get(key: [UInt8], salt: [UInt8] = []) async -> (item: MutableItem?, answered: Int) {
        let outcome = await run { node, now in node.get(key: key, salt: salt, now: now) }
        if case .item(let item, let answered) = outcome { return (item, answered) }
        return (nil, 0)
    }

    /// Stores `item` on the closest nodes; returns how many confirmed, of how many were asked.
    public func put(_ item: MutableItem) async -> (confirmed: Int, asked: Int) {
        let outcome = await run { node, now in node.put(item, now: now) }
        if case .stored(let confirmed, let asked) = outcome { return (confirmed, asked) }
        return (0, 0)
    }

    /// Starts a lookup and waits for it; after ``shutdown()`` returns at once with nothing.
    private func run(_ start: @Sendable (inout DHTNode, UInt64) -> (DHTNode.LookupID, [DHTNode.Action])) async -> DHTNode.Outcome {
        let started: (DHTNode.LookupID, [DHTNode.Action])? = waiting.withLockedValue { state in
            guard !state.closed else { return nil }
            let (lookupID, actions) = node.withLockedValue { start(&$0, Self.now()) }
            state.expected.insert(lookupID)
            return (lookupID, actions)
        }
        guard let (lookupID, actions) = started else { return .nodes([]) }
        return await withCheckedContinuation { continuation in
            let ready: DHTNode.Outcome? = waiting.withLockedValue { state in
                if let outcome = state.early.removeValue(forKey: lookupID) {
                    state.expected.remove(lookupID)
                    return outcome
                }
                if state.closed {
                    state.expected.remove(lookupID)
                    return .nodes([])
                }
                state.waiters[lookupID] = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready); return }
            perform(actions)
        }
    }

    func receive(_ bytes: [UInt8], from address: DHTAddress) {
        let actions = node.withLockedValue { $0.receive(bytes, from: address, now: Self.now()) }
        perform(actions)
    }

    private func perform(_ actions: [DHTNode.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes, let address):
                guard let channel = channel.withLockedValue({ $0 }),
                      let socket = try? SocketAddress(ipAddress: address.host, port: Int(address.port))
                else { continue }
                let envelope = AddressedEnvelope(remoteAddress: socket, data: channel.allocator.buffer(bytes: bytes))
                channel.writeAndFlush(envelope, promise: nil)
            case .finished(let lookupID, let outcome):
                let waiter: CheckedContinuation<DHTNode.Outcome, Never>? = waiting.withLockedValue { state in
                    if let waiter = state.waiters.removeValue(forKey: lookupID) {
                        state.expected.remove(lookupID)
                        return waiter
                    }
                    // Finished before its caller registered; the engine's own lookups (bucket
                    // refreshes) have no caller and are not kept.
                    if state.expected.contains(lookupID) { state.early[lookupID] = outcome }
                    return nil
                }
                waiter?.resume(returning: outcome)
            }
        }
    }

    /// Stops the tick and closes the socket; lookups in progress finish with what they have.
    public func shutdown() async {
        let waiters = waiting.withLockedValue { state in
            state.closed = true
            defer { state.waiters = [:]; state.early = [:]; state.expected = [] }
            return state.waiters
        }
        for (_, waiter) in waiters { waiter.resume(returning: .nodes([])) }
        ticker.withLockedValue { $0?.cancel(); $0 = nil }
        let bound = channel.withLockedValue { $0 }
        try? await bound?.close()
    }
}

private final class DHTHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let service: DHTService

    init(service: DHTService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.data.readableBytes <= 1_500,
              let bytes = envelope.data.getBytes(at: envelope.data.readerIndex, length: envelope.data.readableBytes),
              let address = DHTAddress(socketAddress: envelope.remoteAddress)
        else { return }
        service.receive(bytes, from: address)
    }
}

extension DHTAddress {
    /// The address of a NIO socket address (IPv4 or IPv6).
    public init?(socketAddress: SocketAddress) {
        guard let port = socketAddress.port else { return nil }
        switch socketAddress {
        case .v4(let v4):
            let raw = v4.address.sin_addr.s_addr.bigEndian
            self.init(ip: [UInt8(raw >> 24), UInt8(raw >> 16 & 0xff), UInt8(raw >> 8 & 0xff), UInt8(raw & 0xff)], port: UInt16(port))
        case .v6(let v6):
            var address = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &address) { Array($0) }
            self.init(ip: bytes, port: UInt16(port))
        default:
            return nil
        }
    }
}
