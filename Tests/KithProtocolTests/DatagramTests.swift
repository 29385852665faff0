import KithCBOR
import KithCrypto
import KithModel
import KithProtocol
import Testing

@Suite("UDP datagrams")
struct DatagramTests {
    static let now: UInt64 = 1_800_000_000_000
    let key = Ed25519.KeyPair.generate()
    let me = NodeKeys.generate().identity

    func packet(ts: UInt64 = now, net: NetworkID = .main, nonce: [UInt8] = Random.bytes(16),
                kind: Datagram.Kind = .announce(tcpPort: 7400, seq: 3, hash: [UInt8](repeating: 7, count: 32))) -> [UInt8] {
        Datagram(from: Identity(publicKey: key.publicKey), net: net, ts: ts, kind: kind, nonce: nonce).packet(signedWith: key)
    }

    @Test func aFreshSignedAnnounceIsAcceptedAndDecodedExactly() throws {
        var filter = DatagramFilter(network: .main, me: me)
        let p = packet()
        #expect(p.count < 300)
        let d = try filter.accept(p, from: "127.0.0.1:1", now: Self.now).get()
        #expect(d.from == Identity(publicKey: key.publicKey))
        #expect(d.kind == .announce(tcpPort: 7400, seq: 3, hash: [UInt8](repeating: 7, count: 32)))
        #expect(filter.accepted == 1)
    }

    @Test func replayedStaleWrongNetworkForgedAndOversizeAreDroppedAndCounted() throws {
        var filter = DatagramFilter(network: .main, me: me)
        let p = packet()
        #expect(throws: Never.self) { try filter.accept(p, from: "a", now: Self.now).get() }
        #expect(filter.accept(p, from: "a", now: Self.now + 1) == .failure(.replayed))
        #expect(filter.accept(packet(ts: Self.now - 120_001), from: "a", now: Self.now) == .failure(.stale))
        #expect(filter.accept(packet(ts: Self.now + 120_001), from: "a", now: Self.now) == .failure(.stale))
        #expect((try? filter.accept(packet(ts: Self.now - 120_000), from: "a", now: Self.now).get()) != nil)
        #expect(filter.accept(packet(net: NetworkID(name: "other")), from: "a", now: Self.now) == .failure(.wrongNetwork))
        var forged = packet()
        forged[forged.count - 5] ^= 0x40
        #expect(filter.accept(forged, from: "a", now: Self.now) == .failure(.badSignature))
        #expect(filter.accept([UInt8](repeating: 0, count: 1201), from: "a", now: Self.now) == .failure(.oversize))
        if case .failure(.malformed) = filter.accept([0xa0], from: "a", now: Self.now) {} else { Issue.record("expected malformed") }
        #expect(filter.dropped == ["replayed": 1, "stale": 2, "wrong_network": 1, "bad_signature": 1, "oversize": 1, "malformed": 1])
        #expect(filter.accepted == 2)
    }

    @Test func ownDatagramsAreIgnored() {
        var filter = DatagramFilter(network: .main, me: Identity(publicKey: key.publicKey))
        #expect(filter.accept(packet(), from: "a", now: Self.now) == .failure(.fromSelf))
    }

    @Test func aFloodFromOneSourceIsRateLimitedWithoutStarvingOthers() {
        var filter = DatagramFilter(network: .main, me: me, ratePerSecond: 10, burst: 20)
        var limited = 0
        for i in 0..<200 {
            if filter.accept(packet(), from: "flooder", now: Self.now + UInt64(i)) == .failure(.rateLimited) { limited += 1 }
        }
        #expect(limited >= 170)
        #expect((try? filter.accept(packet(), from: "honest", now: Self.now + 200).get()) != nil)
        // Tokens come back with time.
        #expect((try? filter.accept(packet(), from: "flooder", now: Self.now + 2_000).get()) != nil)
    }

    @Test func aFullNonceCacheRefusesNewcomersAndNeverForgetsAReplayableNonce() {
        var filter = DatagramFilter(network: .main, me: me, ratePerSecond: 1e9, burst: 1e9, nonceCapacity: 100)
        let first = packet()
        #expect((try? filter.accept(first, from: "a", now: Self.now).get()) != nil)
        for i in 0..<1_000 { _ = filter.accept(packet(), from: "a", now: Self.now + 1 + UInt64(i)) }
        #expect(filter.accepted == 100, "bounded: the rest refused")
        #expect(filter.dropped["overloaded"] == 901)
        // The first nonce is still remembered: its replay is refused, not accepted.
        #expect(filter.accept(first, from: "a", now: Self.now + 2_000) == .failure(.replayed))
        // Once the window has passed, the old nonces are forgotten and room comes back.
        let later = Self.now + 2 * DatagramFilter.window + 10
        #expect((try? filter.accept(packet(ts: later), from: "a", now: later).get()) != nil)
    }

    @Test func headDatagramsRoundTripAndUnknownKindsAreRefused() throws {
        let d = try Datagram.decode(packet(kind: .head(seq: 9, hash: [UInt8](repeating: 1, count: 32))))
        #expect(d.kind == .head(seq: 9, hash: [UInt8](repeating: 1, count: 32)))
        let odd = SignedObject.sign(type: "datagram", payload: .textMap([
            "from": .bytes(key.publicKey.bytes), "net": .bytes(NetworkID.main.bytes), "ts": .unsigned(Self.now),
            "nonce": .bytes(Random.bytes(16)), "kind": "shout", "body": .textMap([:]),
        ]), with: key)
        #expect(throws: DatagramError.unknownKind) { try Datagram.decode(odd.wireValue.encoded()) }
    }
}
