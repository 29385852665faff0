/// A failure reported by a cryptographic primitive.
public struct CryptoError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case invalidKeyLength(expected: Int, got: Int)
        case invalidPublicKey
        case weakSharedSecret
        case decryptionFailed
        case keyDerivationFailed
        case invalidLength(String)
    }

    private let code: Code

    private init(_ code: Code) { self.code = code }

    /// A key had the wrong number of bytes.
    public static func invalidKeyLength(expected: Int, got: Int) -> CryptoError {
        CryptoError(.invalidKeyLength(expected: expected, got: got))
    }
    /// A public key is not a valid curve point for this operation.
    public static let invalidPublicKey = CryptoError(.invalidPublicKey)
    /// An X25519 exchange produced the all-zero secret (a low-order public key).
    public static let weakSharedSecret = CryptoError(.weakSharedSecret)
    /// Authenticated decryption failed: wrong key, wrong nonce or tampered data.
    public static let decryptionFailed = CryptoError(.decryptionFailed)
    /// The password hash could not be computed (usually: not enough memory).
    public static let keyDerivationFailed = CryptoError(.keyDerivationFailed)
    /// An input had a length the primitive does not accept.
    public static func invalidLength(_ what: String) -> CryptoError { CryptoError(.invalidLength(what)) }

    public var description: String {
        switch code {
        case .invalidKeyLength(let expected, let got):
            return "key must be \(expected) bytes, got \(got)"
        case .invalidPublicKey:
            return "the public key is not a valid curve point"
        case .weakSharedSecret:
            return "the key exchange produced an all-zero secret (low-order public key)"
        case .decryptionFailed:
            return "decryption failed: the data was tampered with or the key is wrong"
        case .keyDerivationFailed:
            return "password key derivation failed (out of memory?)"
        case .invalidLength(let what):
            return "invalid length: \(what)"
        }
    }
}
