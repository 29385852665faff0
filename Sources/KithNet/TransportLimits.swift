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

    /// The defaults.
    public init() {}
}
