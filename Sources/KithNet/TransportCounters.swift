/// Counts of what the transport accepted, refused and dropped, for `kith status` and tests.
public struct TransportCounters: Sendable, Hashable, Codable {
    /// Inbound connections accepted.
    public var accepted = 0
    /// Outbound connections attempted.
    public var dialled = 0
    /// Inbound connections refused because the node was at its connection cap.
    public var refusedAtCapacity = 0
    /// Inbound connections refused because too many handshakes were in progress.
    public var refusedHandshakes = 0
    /// Inbound connections refused because their address already had too many connections or
    /// handshakes.
    public var refusedPerAddress = 0
    /// Inbound connections closed at random to make room for a newcomer (unproven pending ones,
    /// or idle strangers' sessions).
    public var handshakesEvicted = 0
    /// Handshakes answered with a retry cookie (under load, from an address not yet proven).
    public var retries = 0
    /// Connections that came back with a valid cookie.
    public var cookiesAccepted = 0
    /// Strangers' sessions closed for idling, or to keep room for friends.
    public var strangersClosed = 0
    /// Connections closed because the handshake did not finish in time.
    public var handshakeTimeouts = 0
    /// Connections closed for being idle.
    public var idleTimeouts = 0
    /// Sessions that failed (malformed, undecryptable or unexpected input).
    public var failures = 0
    /// Sessions closed for sending messages faster than the limit.
    public var closedForFlooding = 0
    /// Sessions established.
    public var established = 0
    /// Duplicate sessions closed by the one-session-per-pair rule.
    public var duplicatesClosed = 0

    /// Relay circuits joined (this node relaying for a friend).
    public var circuitsJoined = 0
    /// Relay circuits refused at a limit.
    public var circuitsRefused = 0
    /// Relay circuits the friend did not join in time.
    public var circuitsUnanswered = 0

    /// All zero.
    public init() {}
}
