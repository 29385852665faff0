import KithCBOR
import KithCrypto
import KithModel
import KithProtocol
import KithTestSupport
import Testing

@Suite("Secure session")
struct SecureSessionTests {
    @Test func twoNodesProveIdentitiesAndExchangeHellos() throws {
        let ca = SessionPair.credentials(), cb = SessionPair.credentials()
        var pair = SessionPair(a: ca, b: cb, expected: cb.identity)
        pair.run()
        #expect(SessionPair.established(pair.aEvents) == cb.identity)
        #expect(SessionPair.established(pair.bEvents) == ca.identity)

        let wire = try pair.a.send(.unknown(type: "note", fields: ["n": 7]))
        let received = pair.b.receive(wire, now: SessionPair.now)
        guard case .message(.unknown(let type, let fields))? = received.first else { Issue.record("no message"); return }
        #expect(type == "note" && fields["n"] == 7)
        // A known type with a broken field is reported, and the session stays open.
        let broken = pair.b.receive(try pair.a.send(.unknown(type: "conv-ack", fields: ["conv": .bytes([1]), "seq": 1])), now: SessionPair.now)
        guard case .malformed(let error)? = broken.first else { Issue.record("not reported as malformed"); return }
        #expect(error.type == "conv-ack" && !pair.b.isClosed)
        let ack = pair.b.receive(try pair.a.send(.conversation(.ack(conv: [UInt8](repeating: 7, count: 32), seq: 3))), now: SessionPair.now)
        #expect(ack.first.map { if case .message(.conversation(.ack(_, 3))) = $0 { true } else { false } } == true)
    }

    /// Hole punching: both sides dial at once and TCP joins the two dials into one connection.
    /// Both start as initiators; exactly one turns responder (by ephemeral key order) and the
    /// session opens, each side still insisting on the identity it dialled.
    @Test func twoDiallersOnOneConnectionAgreeOnRoles() throws {
        for _ in 0..<20 {
            let ca = SessionPair.credentials(), cb = SessionPair.credentials()
            var a = SecureSession(role: .initiator(expected: cb.identity), credentials: ca, simultaneousOpen: true)
            var b = SecureSession(role: .initiator(expected: ca.identity), credentials: cb, simultaneousOpen: true)
            var toB = a.start().compactMap(SessionPair.bytes), toA = b.start().compactMap(SessionPair.bytes)
            var aEvents: [SecureSession.Event] = [], bEvents: [SecureSession.Event] = []
            for _ in 0..<10 where !toA.isEmpty || !toB.isEmpty {
                let inB = toB, inA = toA
                toB = []; toA = []
                for chunk in inB { let ev = b.receive(chunk, now: SessionPair.now); bEvents += ev; toA += ev.compactMap(SessionPair.bytes) }
                for chunk in inA { let ev = a.receive(chunk, now: SessionPair.now); aEvents += ev; toB += ev.compactMap(SessionPair.bytes) }
            }
            #expect(SessionPair.established(aEvents) == cb.identity)
            #expect(SessionPair.established(bEvents) == ca.identity)
            let roles = [a.isInitiator, b.isInitiator]
            #expect(roles.filter { !$0 }.count == 1, "exactly one side turns responder")
        }
        // A third party joining a simultaneous open is still refused by the dialler that expected someone else.
        let ca = SessionPair.credentials(), cb = SessionPair.credentials()
        let someoneElse = NodeKeys.generate().identity
        var a = SecureSession(role: .initiator(expected: someoneElse), credentials: ca, simultaneousOpen: true)
        var b = SecureSession(role: .initiator(expected: ca.identity), credentials: cb, simultaneousOpen: true)
        var toB = a.start().compactMap(SessionPair.bytes), toA = b.start().compactMap(SessionPair.bytes)
        var events: [SecureSession.Event] = []
        for _ in 0..<10 where !toA.isEmpty || !toB.isEmpty {
            let inB = toB, inA = toA
            toB = []; toA = []
            for chunk in inB { let ev = b.receive(chunk, now: SessionPair.now); events += ev; toA += ev.compactMap(SessionPair.bytes) }
            for chunk in inA { let ev = a.receive(chunk, now: SessionPair.now); events += ev; toB += ev.compactMap(SessionPair.bytes) }
        }
        #expect(a.isClosed || b.isClosed)
        #expect(SessionPair.established(events) == nil || a.isClosed, "the side that expected someone else never opens")
    }

    @Test func aDiallerAbortsWhenTheResponderIsNotWhoItExpected() throws {
        let ca = SessionPair.credentials(), cb = SessionPair.credentials()
        let someoneElse = NodeKeys.generate().identity
        var pair = SessionPair(a: ca, b: cb, expected: someoneElse)
        pair.run()
        #expect(SessionPair.failure(pair.aEvents) == .unexpectedIdentity(expected: someoneElse.did, got: cb.identity.did))
        #expect(SessionPair.established(pair.bEvents) == nil, "the responder never learns the dialler's identity")
        #expect(pair.a.isClosed)
    }

    @Test func theHelloCarriesOnlyTheNetworkAndIsDecodedStrictly() throws {
        // Nothing but the network: a stranger learns no profile from a session (Protocol/disclosure.md).
        #expect(PeerMessage.hello(net: .main).cbor == CBOR.textMap(["type": "hello", "net": .bytes(NetworkID.main.bytes)]))
        let old = CBOR.textMap(["type": "hello", "net": .bytes(NetworkID.main.bytes), "manifest": .bytes([1])])
        #expect(throws: PeerMessageError.self) { try PeerMessage(old) }
        #expect(throws: PeerMessageError.self) { try PeerMessage(CBOR.textMap(["type": "hello", "net": .bytes([1, 2])])) }
    }

    @Test func differentNetworksCannotCompleteTheHandshake() throws {
        let other = SessionPair.credentials(network: NetworkID(name: "other"))
        var pair = SessionPair(a: SessionPair.credentials(), b: other)
        pair.run()
        #expect(SessionPair.failure(pair.aEvents) == .noise(.decryptionFailed))
    }

    @Test func garbageTruncationAndTamperingCloseTheSession() throws {
        let ca = SessionPair.credentials(), cb = SessionPair.credentials()
        // Garbage instead of message 1.
        var responder = SecureSession(role: .responder, credentials: cb)
        #expect(SessionPair.failure(responder.receive([0x00, 0x05, 1, 2, 3, 4, 5], now: 0)) == .noise(.messageTooShort))
        // An empty frame.
        responder = SecureSession(role: .responder, credentials: cb)
        #expect(SessionPair.failure(responder.receive([0x00, 0x00], now: 0)) != nil)
        // A truncated frame just waits for more bytes.
        responder = SecureSession(role: .responder, credentials: cb)
        #expect(responder.receive([0xff, 0xff, 1, 2], now: 0).isEmpty)
        #expect(!responder.isClosed)
        // A tampered transport message after a good handshake.
        var pair = SessionPair(a: ca, b: cb)
        pair.run()
        var wire = try pair.a.send(.ping)
        wire[wire.count - 1] ^= 1
        #expect(SessionPair.failure(pair.b.receive(wire, now: 0)) == .noise(.decryptionFailed))
        #expect(pair.b.isClosed)
        #expect(throws: SessionError.closed) { try pair.b.send(.ping) }
    }

    @Test func messagesMustBeMapsWithAType() throws {
        var pair = SessionPair(a: SessionPair.credentials(), b: SessionPair.credentials())
        pair.run()
        let noType = try pair.a.sendRaw(CBOR.textMap(["x": 1]).encoded())
        guard case .protocolViolation? = SessionPair.failure(pair.b.receive(noType, now: 0)) else {
            Issue.record("a message without type must be refused"); return
        }
    }

    @Test func bytesSplitAtEveryBoundaryStillWork() throws {
        let ca = SessionPair.credentials(), cb = SessionPair.credentials()
        var a = SecureSession(role: .initiator(expected: nil), credentials: ca)
        var b = SecureSession(role: .responder, credentials: cb)
        // Feed one byte at a time in both directions.
        var toB = a.start().compactMap(SessionPair.bytes).flatMap { $0 }
        var established = 0
        for _ in 0..<6 {
            var toA: [UInt8] = []
            for byte in toB {
                for e in b.receive([byte], now: SessionPair.now) {
                    if case .send(let bytes) = e { toA += bytes }
                    if case .established = e { established += 1 }
                }
            }
            toB = []
            for byte in toA {
                for e in a.receive([byte], now: SessionPair.now) {
                    if case .send(let bytes) = e { toB += bytes }
                    if case .established = e { established += 1 }
                }
            }
        }
        #expect(established == 2)
    }
}
