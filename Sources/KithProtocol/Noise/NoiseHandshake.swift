public import KithCrypto

/// A Noise HandshakeState (spec §5.3) for `Noise_<pattern>_25519_ChaChaPoly_BLAKE2b`: a pure
/// state machine that turns payloads into handshake messages and back. It does no I/O.
public struct NoiseHandshake: Sendable {
    /// The full protocol name, e.g. `Noise_XX_25519_ChaChaPoly_BLAKE2b`.
    public let protocolName: String
    /// True for the initiator.
    public let isInitiator: Bool
    private let pattern: NoisePattern
    private var symmetric: NoiseSymmetricState
    private let localStatic: X25519.KeyPair?
    private var localEphemeral: X25519.KeyPair?
    /// The peer's static public key, once known.
    public private(set) var remoteStatic: [UInt8]?
    private var remoteEphemeral: [UInt8]?
    private var messageIndex = 0

    /// Starts a handshake.
    /// - Parameters:
    ///   - pattern: the handshake pattern (Kith uses ``NoisePattern/XX``).
    ///   - initiator: whether this side sends the first message.
    ///   - prologue: data both sides must agree on, mixed into the hash.
    ///   - localStatic: this side's static key pair, if the pattern sends or pre-knows it.
    ///   - remoteStatic: the peer's static key, for patterns with a `<- s`/`-> s` pre-message.
    ///   - localEphemeral: a fixed ephemeral key, for test vectors only; fresh otherwise.
    public init(pattern: NoisePattern, initiator: Bool, prologue: [UInt8], localStatic: X25519.KeyPair?,
                remoteStatic: [UInt8]? = nil, localEphemeral: X25519.KeyPair? = nil) throws(NoiseError) {
        self.pattern = pattern
        self.protocolName = "Noise_\(pattern.name)_25519_ChaChaPoly_BLAKE2b"
        self.isInitiator = initiator
        self.localStatic = localStatic
        self.remoteStatic = remoteStatic
        self.localEphemeral = localEphemeral
        symmetric = NoiseSymmetricState(protocolName: protocolName)
        symmetric.mixHash(prologue)
        // Pre-messages: the initiator's first, then the responder's.
        if pattern.initiatorStaticPremessage {
            let key = initiator ? localStatic?.publicKey : remoteStatic
            guard let key else { throw .missingKey(initiator ? "local static" : "remote static") }
            symmetric.mixHash(key)
        }
        if pattern.responderStaticPremessage {
            let key = initiator ? remoteStatic : localStatic?.publicKey
            guard let key else { throw .missingKey(initiator ? "remote static" : "local static") }
            symmetric.mixHash(key)
        }
    }

    /// True when every handshake message has been written or read.
    public var isComplete: Bool { messageIndex == pattern.messages.count }

    /// True when the next handshake message is this side's to write.
    public var isMyTurn: Bool { !isComplete && (messageIndex % 2 == 0) == isInitiator }

    /// The handshake hash `h` (64 bytes), a transcript digest both sides share.
    public var handshakeHash: [UInt8] { symmetric.handshakeHash }

    private func dh(_ local: X25519.KeyPair?, _ remote: [UInt8]?, _ what: String) throws(NoiseError) -> SecretBytes {
        guard let local else { throw .missingKey("local \(what)") }
        guard let remote else { throw .missingKey("remote \(what)") }
        do { return try X25519.sharedSecret(secretKey: local.secretKey, publicKey: remote) } catch { throw .invalidPeerKey }
    }

    private mutating func mixDH(_ token: NoisePattern.Token) throws(NoiseError) {
        let secret: SecretBytes
        switch token {
        case .ee: secret = try dh(localEphemeral, remoteEphemeral, "ephemeral")
        case .ss: secret = try dh(localStatic, remoteStatic, "static")
        case .es:
            secret = isInitiator ? try dh(localEphemeral, remoteStatic, "ephemeral/static")
                                 : try dh(localStatic, remoteEphemeral, "static/ephemeral")
        case .se:
            secret = isInitiator ? try dh(localStatic, remoteEphemeral, "static/ephemeral")
                                 : try dh(localEphemeral, remoteStatic, "ephemeral/static")
        case .e, .s: return
        }
        symmetric.mixKey(secret)
    }

    /// Writes the next handshake message carrying `payload`.
    public mutating func writeMessage(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard isMyTurn else { throw .outOfOrder }
        var out: [UInt8] = []
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                let e = localEphemeral ?? X25519.KeyPair.generate()
                localEphemeral = e
                out += e.publicKey
                symmetric.mixHash(e.publicKey)
            case .s:
                guard let s = localStatic else { throw .missingKey("local static") }
                out += try symmetric.encryptAndHash(s.publicKey)
            default:
                try mixDH(token)
            }
        }
        out += try symmetric.encryptAndHash(payload)
        guard out.count <= 65_535 else { throw .messageTooLong }
        messageIndex += 1
        return out
    }

    /// Reads the peer's next handshake message and returns its payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !isComplete, !isMyTurn else { throw .outOfOrder }
        guard message.count <= 65_535 else { throw .messageTooLong }
        var rest = message[...]
        for token in pattern.messages[messageIndex] {
            switch token {
            case .e:
                guard rest.count >= 32 else { throw .messageTooShort }
                let e = Array(rest.prefix(32))
                rest = rest.dropFirst(32)
                remoteEphemeral = e
                symmetric.mixHash(e)
            case .s:
                let length = symmetric.cipher.hasKey ? 32 + ChaCha20Poly1305.tagLength : 32
                guard rest.count >= length else { throw .messageTooShort }
                remoteStatic = try symmetric.decryptAndHash(Array(rest.prefix(length)))
                rest = rest.dropFirst(length)
            default:
                try mixDH(token)
            }
        }
        if symmetric.cipher.hasKey && rest.count < ChaCha20Poly1305.tagLength { throw .messageTooShort }
        let payload = try symmetric.decryptAndHash(Array(rest))
        messageIndex += 1
        return payload
    }

    /// After the last message: the transport state for this side.
    public func split() throws(NoiseError) -> NoiseTransport {
        guard isComplete else { throw .outOfOrder }
        let (c1, c2) = symmetric.split()
        return isInitiator ? NoiseTransport(send: c1, receive: c2, handshakeHash: handshakeHash)
                           : NoiseTransport(send: c2, receive: c1, handshakeHash: handshakeHash)
    }
}

/// The two cipher states of an established Noise session.
public struct NoiseTransport: Sendable {
    /// Encrypts what this side sends.
    public var send: NoiseCipherState
    /// Decrypts what the peer sends.
    public var receive: NoiseCipherState
    /// The final handshake hash.
    public let handshakeHash: [UInt8]

    /// Encrypts one transport message (at most ``NoiseCipherState/maxPlaintext`` bytes of plaintext).
    public mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard plaintext.count <= NoiseCipherState.maxPlaintext else { throw .messageTooLong }
        return try send.encrypt(plaintext)
    }

    /// Decrypts one transport message.
    public mutating func decrypt(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard ciphertext.count <= 65_535 else { throw .messageTooLong }
        return try receive.decrypt(ciphertext)
    }

    /// Encrypts one transport message straight into `out` (exactly `plaintext.count + 16` bytes).
    public mutating func encrypt(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        guard plaintext.count <= NoiseCipherState.maxPlaintext else { throw .messageTooLong }
        try send.encrypt(plaintext, into: out)
    }

    /// Decrypts one transport message read in place.
    public mutating func decrypt(_ ciphertext: UnsafeRawBufferPointer) throws(NoiseError) -> [UInt8] {
        guard ciphertext.count <= 65_535 else { throw .messageTooLong }
        return try receive.decrypt(ciphertext)
    }
}
