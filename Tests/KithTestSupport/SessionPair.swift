public import KithCrypto
public import KithModel
public import KithProtocol

/// Drives two session state machines against each other with no sockets at all.
public struct SessionPair {
    public var a: SecureSession
    public var b: SecureSession
    public var aEvents: [SecureSession.Event] = []
    public var bEvents: [SecureSession.Event] = []
    public static let now: UInt64 = 1_800_000_000_000

    public static func credentials(network: NetworkID = .main, signing: Ed25519.KeyPair = .generate()) -> SessionCredentials {
        SessionCredentials(signing: signing, network: network)
    }

    public init(a: SessionCredentials, b: SessionCredentials, expected: Identity? = nil) {
        self.a = SecureSession(role: .initiator(expected: expected), credentials: a)
        self.b = SecureSession(role: .responder, credentials: b)
    }

    /// Shuttles bytes until both sides are quiet.
    public mutating func run() {
        var toB = a.start().compactMap(Self.bytes)
        aEvents = []
        var toA: [[UInt8]] = []
        var rounds = 0
        while (!toA.isEmpty || !toB.isEmpty) && rounds < 20 {
            rounds += 1
            for chunk in toB {
                let ev = b.receive(chunk, now: Self.now)
                bEvents += ev
                toA += ev.compactMap(Self.bytes)
            }
            toB = []
            for chunk in toA {
                let ev = a.receive(chunk, now: Self.now)
                aEvents += ev
                toB += ev.compactMap(Self.bytes)
            }
            toA = []
        }
    }

    public static func bytes(_ e: SecureSession.Event) -> [UInt8]? {
        if case .send(let b) = e { return b }
        return nil
    }

    public static func failure(_ events: [SecureSession.Event]) -> SessionError? {
        for e in events { if case .failed(let err) = e { return err } }
        return nil
    }

    public static func established(_ events: [SecureSession.Event]) -> Identity? {
        for e in events { if case .established(let p) = e { return p } }
        return nil
    }
}
