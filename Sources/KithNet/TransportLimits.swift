public import NIOCore

/// Bounds every connection and the listener.
public struct TransportLimits: Sendable {
    /// A handshake (and the hello) must complete within this time.
    public var handshakeTimeout: TimeAmount = .seconds(5)
    /// A connection with nothing received for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A keep-alive `ping` is sent after this long without sending anything.
    public var keepAliveInterval: TimeAmount = .seconds(20)
    /// Most concurrent connections, established or not.
    public var maxConnections = 1_024
    /// Most concurrent connections still in their handshake.
    public var maxHandshakes = 64
    /// Most concurrent inbound connections from one IP address (so one host cannot fill the node).
    public var maxConnectionsPerAddress = 64
    /// Most concurrent inbound handshakes from one IP address (so one host cannot hold every
    /// handshake slot with half-open connections).
    public var maxHandshakesPerAddress = 8

    /// Messages a peer may send per second, sustained (`.infinity` for no limit); a peer that
    /// keeps sending faster is closed, so no one peer can flood the node's event queue.
    public var messagesPerSecond: Double = 1_000
    /// Messages a peer may send at once before the sustained rate applies.
    public var messageBurst: Double = 5_000

    /// The defaults.
    public init() {}
}
