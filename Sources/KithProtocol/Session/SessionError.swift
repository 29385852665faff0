/// Why a Kith session ended. The connection is closed; other sessions are unaffected.
public enum SessionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A Noise failure (decryption, nonce exhaustion, malformed handshake).
    case noise(NoiseError)
    /// The peer proved a different identity than the one dialled.
    case unexpectedIdentity(expected: String, got: String)
    /// The identity proof in the handshake was missing, malformed or forged.
    case badIdentityProof(String)
    /// The hello was missing, malformed, or its manifest did not verify or match.
    case badHello(String)
    /// Bytes that break the wire contract.
    case protocolViolation(String)
    /// The session was closed before it was established, or is already closed.
    case closed

    public var description: String {
        switch self {
        case .noise(let e): return e.description
        case .unexpectedIdentity(let expected, let got): return "the peer is \(got), not the expected \(expected)"
        case .badIdentityProof(let why): return "bad identity proof: \(why)"
        case .badHello(let why): return "bad hello: \(why)"
        case .protocolViolation(let why): return "protocol violation: \(why)"
        case .closed: return "session closed"
        }
    }
}
