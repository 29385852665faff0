import KithCBOR
import KithCrypto
import KithModel
import KithProtocol
import Testing

/// A handful of engines wired by hand: a line A – B – C (A and C are not friends).
struct GossipLine {
    static let now: UInt64 = 1_800_000_000_000
    var keys: [Ed25519.KeyPair] = (0..<4).map { _ in .generate() }
    var engines: [GossipEngine]
    var ids: [Identity] { keys.map { Identity(publicKey: $0.publicKey) } }

    init(hops: Int = 2) {
        var config = GossipConfig()
        config.hops = hops
        let ids = keys.map { Identity(publicKey: $0.publicKey) }
        engines = ids.map { GossipEngine(me: $0, network: .main, config: config) }
    }

    func manifest(_ i: Int, seq: UInt64, name: String? = nil, bio: String = "") throws -> SignedObject {
        try Manifest(id: ids[i], seq: seq, ts: Self.now - 10_000 + seq, exp: Self.now + 86_400_000, name: name ?? "n\(i)", bio: bio,
                     interests: [], model: [UInt8](repeating: UInt8(i), count: 32), endpoints: [], caps: [], net: .main).signed(with: keys[i])
    }

    /// Makes i and j friends in both engines (as the friend workflow would).
    mutating func befriend(_ i: Int, _ j: Int) {
        for (s, o) in [(i, j), (j, i)] {
            let object = ConnectionRecord(signer: ids[s], other: ids[o], ts: Self.now - 5_000).signed(with: keys[s])
            _ = engines[i].publish(object, now: Self.now)
            _ = engines[j].publish(object, now: Self.now)
        }
    }

    /// Delivers messages until quiet; returns the number of rounds.
    @discardableResult
    mutating func run(_ initial: [(Int, GossipAction)]) -> Int {
        var queue = initial
        var rounds = 0
        while !queue.isEmpty && rounds < 50 {
            rounds += 1
            var next: [(Int, GossipAction)] = []
            for (from, action) in queue {
                guard case .send(let to, let message) = action, let j = ids.firstIndex(of: to) else { continue }
                // Through the wire encoding and the strict decoder, as a real session would.
                guard case .gossip(let decoded) = try! PeerMessage(CBOR.decode(PeerMessage.gossip(message).encoded())) else {
                    Issue.record("a gossip message did not decode as one")
                    continue
                }
                next += engines[j].receive(from: ids[from], decoded, now: Self.now)
                    .filter { if case .send = $0 { true } else { false } }.map { (j, $0) }
            }
            queue = next
        }
        return rounds
    }

    mutating func connect(_ i: Int, _ j: Int) -> [(Int, GossipAction)] {
        engines[i].peerConnected(ids[j]).map { (i, $0) } + engines[j].peerConnected(ids[i]).map { (j, $0) }
    }
}

@Suite("Gossip engine")
struct GossipEngineTests {
    @Test func aLearnsCsManifestThroughBAndCsUpdateReachesA() throws {
        var line = GossipLine()
        for i in 0..<3 { _ = line.engines[i].publish(try line.manifest(i, seq: 1), now: GossipLine.now) }
        line.befriend(0, 1)
        line.befriend(1, 2)
        line.run(line.connect(0, 1) + line.connect(1, 2))
        #expect(line.engines[0].heldManifests[line.ids[2]]?.seq == 1, "A holds C's manifest, learnt through B")
        #expect(line.engines[0].hops(to: line.ids[2]) == 2)
        #expect(line.engines[2].heldManifests[line.ids[0]]?.seq == 1)

        let update = try line.manifest(2, seq: 2, bio: "new bio")
        let rounds = line.run(line.engines[2].publish(update, now: GossipLine.now).map { (2, $0) })
        #expect(line.engines[0].heldManifests[line.ids[2]]?.bio == "new bio")
        #expect(rounds == 2)
    }

    @Test func nothingBeyondTheScopeIsAccepted() throws {
        var line = GossipLine(hops: 1)
        for i in 0..<3 { _ = line.engines[i].publish(try line.manifest(i, seq: 1), now: GossipLine.now) }
        line.befriend(0, 1)
        line.befriend(1, 2)
        line.run(line.connect(0, 1) + line.connect(1, 2))
        #expect(line.engines[0].heldManifests[line.ids[1]] != nil)
        #expect(line.engines[0].heldManifests[line.ids[2]] == nil, "with hops 1, C is beyond A's scope")
        // Pushing it anyway is refused and counted.
        let pushed = line.engines[0].receive(from: line.ids[1], .push(manifests: [try line.manifest(2, seq: 1)], records: []), now: GossipLine.now)
        #expect(pushed.isEmpty)
        #expect(line.engines[0].counters.outOfScope == 1)
    }

    @Test func aWantIsAnsweredOnlyForIdentitiesInTheRequestersScope() throws {
        // A – B – C – D: B holds D's manifest (two hops from B), which is three hops from A.
        var line = GossipLine()
        for i in 0..<4 { _ = line.engines[i].publish(try line.manifest(i, seq: 1), now: GossipLine.now) }
        line.befriend(0, 1)
        line.befriend(1, 2)
        line.befriend(2, 3)
        line.run(line.connect(1, 2) + line.connect(2, 3))
        #expect(line.engines[1].heldManifests[line.ids[3]] != nil, "B holds D's manifest")
        _ = line.engines[1].peerConnected(line.ids[0])
        // A, B's friend, asks for D and for C: only C (two hops from A) is served.
        let answer = line.engines[1].receive(from: line.ids[0], .want(manifests: [line.ids[3], line.ids[2]], records: []), now: GossipLine.now)
        let served = answer.flatMap { action -> [Identity] in
            guard case .send(_, .items(let manifests, _)) = action else { return [] }
            return manifests.compactMap { try? Manifest.verify($0).id }
        }
        #expect(served == [line.ids[2]])
        #expect(line.engines[1].counters.outOfScope >= 1)
    }

    @Test func aNodeLearnsFromAFriendThatItWasRestoredButOnlyFromItsOwnSignature() throws {
        var line = GossipLine()
        _ = line.engines[0].publish(try line.manifest(0, seq: 5), now: GossipLine.now)
        line.befriend(0, 1)
        _ = line.engines[0].peerConnected(line.ids[1])
        // B claims to hold A's seq 2^62: A asks for it rather than believing the digest.
        let asked = line.engines[0].receive(from: line.ids[1], .digest(manifests: [.init(id: line.ids[0], seq: 1 << 62)], records: []),
                                            now: GossipLine.now)
        #expect(asked.contains { if case .send(_, .want(let m, _)) = $0 { m == [line.ids[0]] } else { false } })
        // A forgery (signed by B, claiming A's id) changes nothing.
        let forged = Manifest(id: line.ids[0], seq: 1 << 62, ts: GossipLine.now, exp: GossipLine.now + 1_000_000, name: "A", bio: "",
                              interests: [], model: [UInt8](repeating: 0, count: 32), endpoints: [], caps: [], net: .main)
        let bySomeoneElse = SignedObject.sign(type: Manifest.type, payload: try CBOR.decode(try forged.signed(with: line.keys[0]).bytes),
                                              with: line.keys[1])
        let forgedObject = try SignedObject(type: Manifest.type, bytes: bySomeoneElse.bytes, sig: bySomeoneElse.sig)
        let afterForgery = line.engines[0].receive(from: line.ids[1], .items(manifests: [forgedObject], records: []), now: GossipLine.now)
        #expect(!afterForgery.contains { if case .ownManifestBehind = $0 { true } else { false } })
        // A's own newer manifest (the one it signed before its backup was restored) is news.
        let genuine = line.engines[0].receive(from: line.ids[1], .items(manifests: [try line.manifest(0, seq: 9)], records: []), now: GossipLine.now)
        #expect(genuine.contains { if case .ownManifestBehind(9) = $0 { true } else { false } })
        #expect(line.engines[0].heldManifests[line.ids[0]]?.seq == 5, "never stored from gossip: the node signs above it instead")
    }

    @Test func loadingFromStorageRespectsTheCapsAndRememberedWantsExpire() throws {
        var config = GossipConfig()
        config.maxManifests = 2
        config.maxRecords = 1
        let line = GossipLine()
        var engine = GossipEngine(me: line.ids[0], network: .main, config: config)
        for i in 1..<4 {
            let object = try line.manifest(i, seq: 1)
            engine.load(manifest: object, try Manifest.verify(object))
        }
        #expect(engine.heldManifests.count == 2, "a full store cannot overfill the engine at start")
        for other in 1..<3 {
            engine.load(record: ConnectionRecord(signer: line.ids[0], other: line.ids[other], ts: 5).signed(with: line.keys[0]),
                        ConnectionRecord(signer: line.ids[0], other: line.ids[other], ts: 5))
        }
        #expect(engine.recordCount == 1)

        // A want for a manifest not held yet is answered only if it arrives within a minute.
        var b = GossipLine()
        b.befriend(0, 1)
        b.befriend(1, 2)
        _ = b.engines[1].peerConnected(b.ids[0])
        _ = b.engines[1].receive(from: b.ids[0], .want(manifests: [b.ids[2]], records: []), now: GossipLine.now)
        let late = b.engines[1].publish(try b.manifest(2, seq: 1), now: GossipLine.now + 61_000)
        #expect(!late.contains { if case .send(_, .items) = $0 { true } else { false } }, "the remembered want expired")
    }

    @Test func aSilentDesignatedParentDelaysAnUpdateByTheRepairDelayAtMost() throws {
        // A diamond: 0 – 1, 0 – 2, 1 – 3, 2 – 3. Node 3's designated parent for 0's updates is the
        // smaller of 1 and 2; it stays silent (drops what it should push).
        var line = GossipLine()
        for i in 0..<4 { _ = line.engines[i].publish(try line.manifest(i, seq: 1), now: GossipLine.now) }
        for (x, y) in [(0, 1), (0, 2), (1, 3), (2, 3)] { line.befriend(x, y) }
        line.run(line.connect(0, 1) + line.connect(0, 2) + line.connect(1, 3) + line.connect(2, 3))
        let silent = [line.ids[1], line.ids[2]].min()!
        let other = silent == line.ids[1] ? 2 : 1
        let silentIndex = 3 - other
        let update = try line.manifest(0, seq: 2, bio: "news")
        var queue = line.engines[0].publish(update, now: GossipLine.now).map { (0, $0) }
        // Deliver everything except what the silent parent sends.
        var rounds = 0
        while !queue.isEmpty && rounds < 20 {
            rounds += 1
            var next: [(Int, GossipAction)] = []
            for (from, action) in queue where from != silentIndex {
                guard case .send(let to, let message) = action, let j = line.ids.firstIndex(of: to) else { continue }
                next += line.engines[j].receive(from: line.ids[from], message, now: GossipLine.now).map { (j, $0) }
            }
            queue = next
        }
        #expect(line.engines[3].heldManifests[line.ids[0]]?.seq == 1, "the designated parent kept it to itself")
        // Before the delay nothing is offered; after it, the other parent offers it and 3 asks.
        #expect(line.engines[other].tick(now: GossipLine.now + GossipEngine.repairDelay - 1).isEmpty)
        let repair = line.engines[other].tick(now: GossipLine.now + GossipEngine.repairDelay).map { (other, $0) }
        #expect(repair.count == 1)
        line.run(repair)
        #expect(line.engines[3].heldManifests[line.ids[0]]?.bio == "news")
        #expect(line.engines[other].tick(now: GossipLine.now + 10 * GossipEngine.repairDelay).isEmpty, "offered once")
    }

    @Test func forgedStaleOversizedAndEquivocatingManifestsAreRejectedOrFlagged() throws {
        var line = GossipLine()
        line.befriend(0, 1)
        _ = line.connect(0, 1)
        func push(_ object: SignedObject) -> [GossipAction] {
            line.engines[0].receive(from: line.ids[1], .items(manifests: [object], records: []), now: GossipLine.now)
        }
        let good = try line.manifest(1, seq: 5)
        #expect(push(good).contains { if case .storeManifest = $0 { true } else { false } })
        // Forged: B's manifest signed by someone else.
        let forged = try SignedObject(type: "manifest", bytes: good.bytes, sig: line.keys[3].sign(SignedObject.signingMessage(type: "manifest", bytes: good.bytes)))
        _ = push(forged)
        // Stale: a lower seq.
        _ = push(try line.manifest(1, seq: 4))
        // Oversized: a payload over 8 KiB, validly signed.
        var big = Manifest(id: line.ids[1], seq: 6, ts: GossipLine.now, exp: GossipLine.now + 1, name: "b", bio: "", interests: [],
                           model: [UInt8](repeating: 0, count: 32), endpoints: [], caps: [], net: .main).payload.mapValue!
        big[.text("bio")] = .text(String(repeating: "x", count: 9_000))
        _ = push(SignedObject.sign(type: "manifest", payload: .map(big), with: line.keys[1]))
        // Equivocation: same seq, different bytes.
        let fork = try line.manifest(1, seq: 5, name: "evil twin")
        let actions = push(fork)
        #expect(actions.contains { if case .equivocation(let id) = $0 { id == line.ids[1] } else { false } })
        #expect(line.engines[0].equivocating.contains(line.ids[1]))
        #expect(line.engines[0].heldManifests[line.ids[1]]?.name == "n1", "the first manifest with that seq is kept")
        let c = line.engines[0].counters
        #expect(c.rejected == 2 && c.stale == 1 && c.equivocations == 1 && c.manifestsAccepted == 1)
    }

    @Test func aRevocationRemovesTheEdgeAndWinsOverTheOlderConnection() throws {
        var line = GossipLine()
        for i in 0..<3 { _ = line.engines[i].publish(try line.manifest(i, seq: 1), now: GossipLine.now) }
        line.befriend(0, 1)
        line.befriend(1, 2)
        line.run(line.connect(0, 1) + line.connect(1, 2))
        #expect(line.engines[0].hops(to: line.ids[2]) == 2)
        // C unfriends B; B relays the revocation; A's graph loses the B–C edge.
        let revocation = ConnectionRecord(signer: line.ids[2], other: line.ids[1], ts: GossipLine.now, kind: .revocation).signed(with: line.keys[2])
        line.run(line.engines[2].publish(revocation, now: GossipLine.now).map { (2, $0) })
        #expect(line.engines[1].graph.neighbours(line.ids[1]).contains(line.ids[2]) == false)
        #expect(line.engines[0].hops(to: line.ids[2]) == nil)
        // An older connection record does not bring the edge back.
        let old = ConnectionRecord(signer: line.ids[2], other: line.ids[1], ts: GossipLine.now - 1).signed(with: line.keys[2])
        _ = line.engines[0].publish(old, now: GossipLine.now)
        #expect(line.engines[0].hops(to: line.ids[2]) == nil)
    }

    @Test func floodsFromOnePeerAreRateLimited() throws {
        var config = GossipConfig()
        config.burst = 10
        config.ratePerSecond = 1
        let a = NodeKeys.generate().identity, b = NodeKeys.generate().identity
        var engine = GossipEngine(me: a, network: .main, config: config)
        for _ in 0..<50 { _ = engine.receive(from: b, .digest(manifests: [], records: []), now: GossipLine.now) }
        #expect(engine.counters.rateLimited == 40)
    }

    @Test func malformedGossipMessagesAreRefusedByTheDecoderAndCounted() {
        var engine = GossipEngine(me: NodeKeys.generate().identity, network: .main)
        let peer = NodeKeys.generate().identity
        let id = NodeKeys.generate().identity, other = NodeKeys.generate().identity
        let (a, b) = id < other ? (id, other) : (other, id)
        let bodies: [[String: CBOR]] = [
            ["m": 1, "r": .array([])], ["x": 1], ["m": .array([.array([.bytes([1, 2]), 3])]), "r": .array([])],
            ["m": .array([]), "r": .array([]), "extra": 1],
            ["m": .array([]), "r": .array([.array([.bytes(b.bytes), .bytes(a.bytes), .bytes(a.bytes), 1, .bool(false)])])],  // a > b
            ["m": .array([]), "r": .array([.array([.bytes(a.bytes), .bytes(b.bytes), .bytes(peer.bytes), 1, .bool(false)])])],  // by outside
        ]
        for body in bodies {
            var map = body
            map["type"] = "digest"
            #expect(throws: PeerMessageError.self) { try PeerMessage(.textMap(map)) }
            engine.receivedMalformed(from: peer)
        }
        #expect(engine.counters.malformedMessages == bodies.count)
        // Too many entries for one digest is the engine's own limit.
        let many = (0..<(GossipConfig().maxDigestEntries + 1)).map { _ in GossipMessage.ManifestVersion(id: NodeKeys.generate().identity, seq: 1) }
        _ = engine.receive(from: peer, .digest(manifests: many, records: []), now: GossipLine.now)
        #expect(engine.counters.malformedMessages == bodies.count + 1)
    }
}
