public import KithCBOR
public import KithModel

/// What the transport reports to the node.
public enum TransportEvent: Sendable {
    /// A session with a proven peer opened (after the hello), carrying its verified manifest.
    case connected(PeerConnection, manifest: Manifest, manifestObject: SignedObject)
    /// An application message from a peer.
    case message(PeerConnection, type: String, body: CBOR)
    /// A registered session closed.
    case disconnected(PeerConnection, reason: String)
}
