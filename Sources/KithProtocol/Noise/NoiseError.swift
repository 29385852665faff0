/// Why a Noise handshake or transport session failed. Any of these ends the session.
public enum NoiseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A message could not be authenticated (tampered, replayed, or the wrong key).
    case decryptionFailed
    /// A message was shorter than its pattern requires.
    case messageTooShort
    /// A message or payload exceeds 65535 bytes.
    case messageTooLong
    /// A DH with a peer key produced a weak (all-zero) result.
    case invalidPeerKey
    /// The nonce counter reached its maximum; the session must end.
    case nonceExhausted
    /// A message was written or read out of turn, or after the handshake ended.
    case outOfOrder
    /// A pattern needs a key that was not provided.
    case missingKey(String)

    public var description: String {
        switch self {
        case .decryptionFailed: return "Noise decryption failed (tampered or replayed data, or wrong keys)"
        case .messageTooShort: return "Noise message too short"
        case .messageTooLong: return "Noise message longer than 65535 bytes"
        case .invalidPeerKey: return "the peer's key produced an all-zero DH result"
        case .nonceExhausted: return "Noise nonce exhausted; the session must be re-established"
        case .outOfOrder: return "Noise message out of order"
        case .missingKey(let which): return "Noise pattern needs the \(which) key"
        }
    }
}
