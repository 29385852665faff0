public import KithProtocol

/// What the transport reports to the node.
public enum TransportEvent: Sendable {
    /// A session with a proven peer opened (after the hello): the node decides what, if anything,
    /// to tell it.
    case connected(PeerConnection)
    /// An application message from a peer (hello and ping stay inside the transport).
    case message(PeerConnection, PeerMessage)
    /// A message of a known type with broken fields; the session stays open.
    case malformed(PeerConnection, PeerMessageError)
    /// A registered session closed.
    case disconnected(PeerConnection, reason: String)
}
