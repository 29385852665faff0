import KithCBOR
public import KithModel

/// One Kith connection as a pure state machine (no sockets): Noise XX with identity proofs,
/// then the hello exchange, then CBOR application messages. Feed it received bytes; it returns
/// what to send and what happened. Any failure moves it to `closed` for good.
public struct SecureSession: Sendable {
    /// Which side of the connection this is.
    public enum Role: Sendable, Hashable {
        /// The dialler, optionally insisting on the identity it meant to reach.
        case initiator(expected: Identity?)
        /// The listener.
        case responder
    }

    /// What the driver must do or know after feeding the session.
    public enum Event: Sendable {
        /// Write these bytes to the connection.
        case send([UInt8])
        /// The peer proved its identity and sent a valid hello; the session is open.
        case established(peer: Identity)
        /// An application message, decoded.
        case message(PeerMessage)
        /// A message of a known type whose fields break its definition; the session stays open
        /// (the driver counts and ignores it).
        case malformed(PeerMessageError)
        /// The session failed; close the connection.
        case failed(SessionError)
    }

    private enum State: Sendable {
        case handshaking(NoiseHandshake)
        case awaitingHello(NoiseTransport, peer: Identity)
        case open(NoiseTransport, peer: Identity)
        case closed
    }

    /// Largest application message (Noise plaintext), in bytes.
    public static let maxMessage = NoiseCipherState.maxPlaintext

    /// The role the session started in.
    public let role: Role
    private let credentials: SessionCredentials
    private var state: State
    private var frames = FrameDecoder()
    /// The peer's identity once proven.
    public private(set) var peer: Identity?
    /// True when this side dialled but answers as the responder: both sides dialled at once and
    /// TCP joined the dials into one connection (see ``receive(_:now:)``).
    public private(set) var turnedResponder = false
    /// True when this side runs the handshake as the initiator.
    public var isInitiator: Bool { if case .initiator = role { !turnedResponder } else { false } }
    /// The initiator's message 1 (its ephemeral key), until message 2 arrives.
    private var sentMessage1: [UInt8]? = nil
    /// Whether a dialler may turn responder on a simultaneous open (hole-punch dials only).
    private let simultaneousOpen: Bool

    /// Creates a session; call ``start()`` next. `simultaneousOpen` lets an initiator agree on
    /// roles with a peer that dialled it at the same moment (a hole punch); only then may it
    /// answer as the responder, which proves its identity before the peer proved the expected
    /// one — so never on an ordinary dial, where whoever answers could ask for that proof.
    public init(role: Role, credentials: SessionCredentials, simultaneousOpen: Bool = false) {
        self.role = role
        self.credentials = credentials
        self.simultaneousOpen = simultaneousOpen
        let isInitiator = if case .initiator = role { true } else { false }
        // XX with a present static key never lacks a key, so this cannot fail.
        state = .handshaking(try! NoiseHandshake(pattern: .XX, initiator: isInitiator, prologue: credentials.prologue,
                                                 localStatic: credentials.staticKey))
    }

    /// True once the hello has been verified.
    public var isEstablished: Bool { if case .open = state { true } else { false } }
    /// True after a failure or ``close()``.
    public var isClosed: Bool { if case .closed = state { true } else { false } }
    /// True while the Noise handshake is still running.
    public var isHandshaking: Bool { if case .handshaking = state { true } else { false } }

    /// The initiator's first message (message 1, empty payload); nothing for the responder.
    public mutating func start() -> [Event] {
        guard case .handshaking(var hs) = state, hs.isMyTurn else { return [] }
        do {
            let m1 = try hs.writeMessage()
            state = .handshaking(hs)
            sentMessage1 = m1
            return [.send(FrameDecoder.frame(m1))]
        } catch {
            return fail(.noise(error))
        }
    }

    /// Feeds received bytes; `now` (ms) is used to check the peer's manifest expiry.
    public mutating func receive(_ bytes: some Sequence<UInt8>, now: UInt64) -> [Event] {
        guard !isClosed else { return [] }
        frames.append(bytes)
        var events: [Event] = []
        while !isClosed {
            if case .open(var transport, let peer) = state {
                // Established: decrypt each frame in place, without copying it out.
                do {
                    guard let range = try frames.nextRange() else { break }
                    let item = try frames.withBody(range) { (frame) throws(SessionError) in
                        try Self.decrypt(frame, with: &transport)
                    }
                    state = .open(transport, peer: peer)
                    do { events.append(.message(try PeerMessage(item))) } catch { events.append(.malformed(error)) }
                } catch {
                    events += fail(error)
                }
                continue
            }
            let frame: [UInt8]?
            do { frame = try frames.next() } catch {
                events += fail(error)
                break
            }
            guard let frame else { break }
            events += process(frame, now: now)
        }
        return events
    }

    /// Encrypts and frames an application message.
    public mutating func send(_ message: PeerMessage) throws(SessionError) -> [UInt8] {
        try sendRaw(message.encoded())
    }

    /// Encrypts and frames an already encoded message.
    public mutating func sendRaw(_ plaintext: [UInt8]) throws(SessionError) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: Self.frameSize(plaintext: plaintext.count))
        try frame.withUnsafeMutableBytes { out in
            Result { () throws(SessionError) in try sendRaw(plaintext, into: out) }
        }.get()
        return frame
    }

    /// Bytes on the wire for a message of `plaintext` bytes: length prefix, ciphertext, tag.
    public static func frameSize(plaintext: Int) -> Int { 2 + plaintext + 16 }

    /// Encrypts and frames an already encoded message straight into `out`, which must hold
    /// exactly ``frameSize(plaintext:)`` bytes (no intermediate copies).
    public mutating func sendRaw(_ plaintext: [UInt8], into out: UnsafeMutableRawBufferPointer) throws(SessionError) {
        guard case .open(var transport, let peer) = state else { throw .closed }
        guard plaintext.count <= Self.maxMessage, out.count == Self.frameSize(plaintext: plaintext.count) else {
            throw .protocolViolation("message of \(plaintext.count) bytes does not fit a frame")
        }
        let length = plaintext.count + 16
        out[0] = UInt8(length >> 8)
        out[1] = UInt8(length & 0xff)
        do {
            try plaintext.withUnsafeBytes { p in
                Result { () throws(NoiseError) in try transport.encrypt(p, into: UnsafeMutableRawBufferPointer(rebasing: out[2...])) }
            }.get()
            state = .open(transport, peer: peer)
        } catch {
            state = .closed
            throw .noise(error)
        }
    }

    /// Ends the session locally.
    public mutating func close() { state = .closed }

    private mutating func fail(_ error: SessionError) -> [Event] {
        state = .closed
        return [.failed(error)]
    }

    private mutating func process(_ frame: [UInt8], now: UInt64) -> [Event] {
        switch state {
        case .handshaking(var hs):
            do {
                if simultaneousOpen, let mine = sentMessage1, frame.count == mine.count {
                    // A message 1 where message 2 (at least 96 bytes) belongs: both sides dialled
                    // at once and TCP joined the two dials into one connection (a simultaneous
                    // open, as hole punching makes). The side whose ephemeral key is bytewise
                    // smaller stays initiator and ignores the peer's message 1; the other turns
                    // responder and answers it.
                    sentMessage1 = nil
                    if mine.lexicographicallyPrecedes(frame) { return [] }
                    guard mine != frame else { return fail(.protocolViolation("the peer echoed message 1")) }
                    hs = try NoiseHandshake(pattern: .XX, initiator: false, prologue: credentials.prologue, localStatic: credentials.staticKey)
                    turnedResponder = true
                }
                if hs.isInitiator { sentMessage1 = nil }
                let payload = try hs.readMessage(frame)
                var events: [Event] = []
                if hs.isInitiator {
                    // Message 2: the responder's proof. Check it before revealing ourselves.
                    let proof = try IdentityProof(decoding: payload, staticKey: hs.remoteStatic ?? [])
                    if case .initiator(let expected?) = role, expected != proof.identity {
                        return fail(.unexpectedIdentity(expected: expected.did, got: proof.identity.did))
                    }
                    let m3 = try hs.writeMessage(payload: credentials.proof.encoded)
                    events.append(.send(FrameDecoder.frame(m3)))
                    peer = proof.identity
                } else if hs.isComplete {
                    // Message 3: the initiator's proof (a dialler that turned responder still
                    // insists on the identity it dialled).
                    let proof = try IdentityProof(decoding: payload, staticKey: hs.remoteStatic ?? [])
                    if case .initiator(let expected?) = role, expected != proof.identity {
                        return fail(.unexpectedIdentity(expected: expected.did, got: proof.identity.did))
                    }
                    peer = proof.identity
                } else {
                    // Message 1 carries an empty payload.
                    guard payload.isEmpty else { return fail(.protocolViolation("message 1 must have an empty payload")) }
                    let m2 = try hs.writeMessage(payload: credentials.proof.encoded)
                    events.append(.send(FrameDecoder.frame(m2)))
                }
                guard hs.isComplete, let peer else {
                    state = .handshaking(hs)
                    return events
                }
                guard peer != credentials.identity else { return fail(.badIdentityProof("the peer claims our own identity")) }
                var transport = try hs.split()
                let hello = PeerMessage.hello(net: credentials.network).encoded()
                events.append(.send(FrameDecoder.frame(try transport.encrypt(hello))))
                state = .awaitingHello(transport, peer: peer)
                return events
            } catch let error as NoiseError {
                return fail(.noise(error))
            } catch let error as SessionError {
                return fail(error)
            } catch {
                return fail(.protocolViolation("\(error)"))
            }

        case .awaitingHello(var transport, let peer):
            let item: CBOR
            do { item = try Self.decrypt(frame, with: &transport) } catch { return fail(error) }
            guard case .hello(let net)? = try? PeerMessage(item) else {
                return fail(.badHello("the first message must be {\"type\": \"hello\", \"net\": …}"))
            }
            guard net == credentials.network else { return fail(.badHello("the peer is on another network")) }
            state = .open(transport, peer: peer)
            return [.established(peer: peer)]

        case .open, .closed:
            // Established sessions decrypt in place in `receive`; closed ones read nothing.
            return []
        }
    }

    private static func decrypt(_ frame: [UInt8], with transport: inout NoiseTransport) throws(SessionError) -> CBOR {
        try frame.withUnsafeBytes { bytes in
            Result { () throws(SessionError) in try decrypt(bytes, with: &transport) }
        }.get()
    }

    private static func decrypt(_ frame: UnsafeRawBufferPointer, with transport: inout NoiseTransport) throws(SessionError) -> CBOR {
        let plaintext: [UInt8]
        do { plaintext = try transport.decrypt(frame) } catch { throw .noise(error) }
        let item: CBOR
        do { item = try CBOR.decode(plaintext, limits: CBORLimits(maxInputSize: SecureSession.maxMessage, maxDepth: 16)) } catch {
            throw .protocolViolation("message: \(error)")
        }
        guard case .text? = item["type"] else { throw .protocolViolation("message without a text \"type\"") }
        return item
    }
}
