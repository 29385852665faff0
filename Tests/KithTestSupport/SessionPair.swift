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

    public static func credentials(name: String, network: NetworkID = .main, exp: UInt64 = 4_000_000_000_000,
                            signing: Ed25519.KeyPair = .generate(), manifestKey: Ed25519.KeyPair? = nil) throws -> SessionCredentials {
        let key = manifestKey ?? signing
        let manifest = Manifest(id: Identity(publicKey: key.publicKey), seq: 1, ts: 1_000, exp: exp, name: name, bio: "",
                                interests: [], model: [UInt8](repeating: 0, count: 32), endpoints: [], caps: [], net: network)
        return SessionCredentials(signing: signing, network: .main, manifest: try manifest.signed(with: key))
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

    public static func established(_ events: [SecureSession.Event]) -> (Identity, Manifest)? {
        for e in events { if case .established(let p, let m, _) = e { return (p, m) } }
        return nil
    }
}
