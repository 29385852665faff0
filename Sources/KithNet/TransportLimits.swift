public import NIOCore

/// Bounds every connection and the listener (`Protocol/transport.md`, connection budgets).
public struct TransportLimits: Sendable {
    /// A handshake (and the hello) must complete within this time.
    public var handshakeTimeout: TimeAmount = .seconds(5)
    /// A connection with nothing received for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A stranger's session with no message but pings for this long is closed.
    public var strangerIdleTimeout: TimeAmount = .seconds(30)
    /// A stranger's session idle for this long may be closed at once to make room.
    public var strangerIdleGrace: TimeAmount = .seconds(5)
    /// A keep-alive `ping` is sent after this long without sending anything.
    public var keepAliveInterval: TimeAmount = .seconds(20)
    /// Most concurrent inbound connections, established or not.
    public var maxConnections = 1_024
    /// Most concurrent outbound connections (counted apart, so a full inbound side never stops
    /// the node from dialling its friends).
    public var maxOutbound = 256
    /// Inbound sessions kept for friends: strangers hold at most `maxConnections` minus these.
    public var reservedForFriends = 128
    /// Most concurrent inbound connections not yet established (waiting for or in a handshake).
    public var maxHandshakes = 64
    /// Most concurrent inbound connections from one network (an IPv4 /24, an IPv6 /64), so one
    /// host, or its neighbours, cannot fill the node.
    public var maxConnectionsPerNetwork = 64
    /// Most concurrent inbound handshakes from one network.
    public var maxHandshakesPerNetwork = 8

    /// Messages a peer may send per second, sustained (`.infinity` for no limit); a peer that
    /// keeps sending faster is closed, so no one peer can flood the node's event queue.
    public var messagesPerSecond: Double = 1_000
    /// Messages a peer may send at once before the sustained rate applies.
    public var messageBurst: Double = 5_000

    /// Dial from the listening port (SO_REUSEPORT), falling back to an ephemeral one: a NAT
    /// then maps that one port, friends observe it, and hole punching reuses it.
    public var dialFromListenPort = true
    /// Circuits this node relays for its friends.
    public var relay = RelayLimits()

    /// The defaults.
    /// When set, at most this many events wait for the consumer of ``Transport/events``: beyond
    /// it, sessions stop reading from their sockets until the consumer catches up (to half). The
    /// consumer must then call ``Transport/eventHandled()`` once per event. Nil: unbounded.
    public var eventBacklog: Int?

    public init() {}

    var admission: Admission.Limits {
        Admission.Limits(maxInbound: maxConnections, maxInboundPerNetwork: maxConnectionsPerNetwork, maxPending: maxHandshakes,
                         maxPendingPerNetwork: maxHandshakesPerNetwork, reservedForFriends: min(reservedForFriends, maxConnections),
                         strangerIdleGrace: UInt64(strangerIdleGrace.nanoseconds / 1_000_000))
    }
}

/// Bounds on the circuits a node relays for its friends (`Protocol/transport.md`, relays).
public struct RelayLimits: Sendable {
    /// Most circuits open at once.
    public var circuits = 64
    /// Most circuits open at once to one friend.
    public var circuitsPerFriend = 4
    /// Most circuits open at once from one network (IPv4 /24, IPv6 /64; people behind one
    /// carrier NAT share theirs).
    public var circuitsPerNetwork = 16
    /// Bytes one circuit carries (both directions) before it is closed.
    public var bytesPerCircuit = 16 << 20
    /// How long one circuit lives before it is closed.
    public var lifetime: TimeAmount = .minutes(30)
    /// How long the friend has to join a circuit someone asked for.
    public var joinTimeout: TimeAmount = .seconds(5)
    /// `relay-call`s to one friend: a burst, then this many a second. A dialler that hangs up
    /// at once frees its circuit at once, so without this it could make the relay call its
    /// friend faster than the friend's message limit, which then closes the relay's session.
    public var callBurst: Double = 16
    public var callsPerSecond: Double = 2

    public init() {}
}
