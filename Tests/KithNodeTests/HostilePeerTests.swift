import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithNet
import KithNode
import KithProtocol
import KithStore
import KithTestSupport
import Logging
import NIOPosix
import Testing

/// A peer that speaks the protocol with its own valid identity but sends whatever it likes.
struct HostilePeer {
    let key: Ed25519.KeyPair
    let transport: Transport
    let group: MultiThreadedEventLoopGroup
    /// Its manifest, which it brings into conversations (its entries carry its model commitment).
    let speaker: Speaker

    static func make(name: String = "Mallory") throws -> HostilePeer {
        let key = Ed25519.KeyPair.generate()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "hostile")
        logger.logLevel = .critical
        let transport = Transport(credentials: SessionCredentials(signing: key, network: .main), group: group, logger: logger)
        return HostilePeer(key: key, transport: transport, group: group, speaker: Speaker(key: key, name: name, model: [UInt8](repeating: 0, count: 32)))
    }

    var identity: Identity { Identity(publicKey: key.publicKey) }

    /// Opens a conversation with `other` over `conn` (header and a first `say`), as an honest
    /// peer would; returns the log so far.
    func openConversation(with other: Identity, over conn: PeerConnection, topic: String, maxTurns: UInt64,
                          text: String) async throws -> ConversationLog {
        let header = ConversationHeader(from: identity, to: other, topic: topic, ts: WallClock.system.now(), net: .main, maxTurns: maxTurns)
            .signed(with: key)
        var log = try ConversationLog(header: header)
        try speaker.say(in: &log, text: text, ts: WallClock.system.now())
        try await conn.send(.conversation(.open(header: header, entry: log.entries[0].object, manifest: speaker.manifest)))
        return log
    }

    /// Adds a `conv-entry` the node sent (and the manifest it brought, if any) to `log`.
    static func append(_ reply: CBOR, to log: inout ConversationLog) throws {
        if let manifest = reply["manifest"] { try log.addManifest(SignedObject(wireValue: manifest)) }
        guard let entry = reply["entry"] else { throw LogProblem("entry", "the reply holds no entry") }
        try log.append(SignedObject(wireValue: entry))
    }

    func shutdown() async {
        await transport.shutdown()
        try? await group.shutdownGracefully()
    }
}

/// Waits for the next message of `type` on `events`; returns it as its wire map.
func nextMessage(_ events: inout AsyncStream<TransportEvent>.Iterator, _ type: String, within seconds: Double = 10) async -> CBOR? {
    let deadline = Date().addingTimeInterval(seconds * Fixtures.timeScale)
    while Date() < deadline, let event = await events.next() {
        if case .message(_, let message) = event, message.type == type { return message.cbor }
    }
    return nil
}

@Suite("Hostile peers against a running node", .serialized)
struct HostilePeerTests {
    static func start(_ example: String) async throws -> RunningNode {
        try await ProposalTests.start(example, edits: [("converse: friends", "converse: anyone"), ("converse: fof", "converse: anyone")])
    }

    @Test func reorderedForgedForeignOversizedAndLateEntriesAreRefusedWhileAnHonestConversationCompletes() async throws {
        let ben = try await Self.start("ben")
        let ada = try await Self.start("ada")
        let mallory = try HostilePeer.make()
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        var events = mallory.transport.events.makeAsyncIterator()

        // An honest conversation runs at the same time and must complete.
        let honest = Task {
            var kinds: [String] = []
            for await event in await ada.runtime.talk(to: ben.identity, host: "127.0.0.1", port: ben.port, topic: "books", turns: 6) {
                if event.event == .entry, let kind = event.kind { kinds.append(kind) }
            }
            return kinds
        }

        // Mallory opens a legitimate conversation, so Ben holds state it can attack.
        var log = try await mallory.openConversation(with: ben.identity, over: conn, topic: "probe", maxTurns: 10, text: "hello Ben")
        let reply = try #require(await nextMessage(&events, "conv-entry"))
        try HostilePeer.append(reply, to: &log)
        #expect(log.count == 2)

        let stranger = Ed25519.KeyPair.generate()
        let attacks: [(String, SignedObject)] = [
            ("out of order (seq 4 before 3)", Forge.entry(conv: log.id, seq: 4, prev: log.headHash, author: mallory.identity, ts: WallClock.system.now(), signer: mallory.key)),
            ("broken chain", Forge.entry(conv: log.id, seq: 3, prev: Random.bytes(32), author: mallory.identity, ts: WallClock.system.now(), signer: mallory.key)),
            ("by a non-participant", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: Identity(publicKey: stranger.publicKey),
                                                ts: WallClock.system.now(), signer: stranger)),
            ("forged signature", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity, ts: WallClock.system.now(), signer: stranger)),
            ("over the size limit", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity,
                                               text: String(repeating: "x", count: ConversationEntry.maxText + 1), ts: WallClock.system.now(),
                                               signer: mallory.key)),
            ("Ben's turn, written by Mallory", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: ben.identity, ts: WallClock.system.now(), signer: mallory.key)),
            // Issue 13 item 5: what an audit must be able to trust.
            ("a model commitment its manifest does not carry", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity,
                                                                           ts: WallClock.system.now(), model: [UInt8](repeating: 7, count: 32),
                                                                           signer: mallory.key)),
            ("dated an hour ahead", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity,
                                                ts: WallClock.system.now() + 3_600_000, model: mallory.speaker.model, signer: mallory.key)),
            ("dated in 1970", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity, ts: 1_000,
                                          model: mallory.speaker.model, signer: mallory.key)),
            ("version 1, saying nothing of who produced it", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity,
                                                                         ts: WallClock.system.now(), model: mallory.speaker.model, version: 1,
                                                                         signer: mallory.key)),
            ("a person's turn with an engine", Forge.entry(conv: log.id, seq: 3, prev: log.headHash, author: mallory.identity,
                                                           ts: WallClock.system.now(), model: mallory.speaker.model, by: "person",
                                                           engine: "gpt", signer: mallory.key)),
        ]
        for (_, object) in attacks {
            try await conn.send(.conversation(.entry(conv: log.id, entry: object, manifest: nil)))
        }
        try await conn.send(.conversation(.entry(conv: Random.bytes(32), entry: attacks[0].1, manifest: nil)))
        try await conn.send(.unknown(type: "conv-entry", fields: ["conv": .bytes(log.id), "entry": .text("not an entry")]))
        // A loaded full run (the real-model suite beside this one) may take seconds to get through them.
        let refused = await eventually(15) { await ben.runtime.status().conversations["entries_refused"] == attacks.count }
        var counters = await ben.runtime.status().conversations
        #expect(refused, "\(counters)")
        #expect(counters["entries_for_unknown_conversations"] == 1)
        #expect(counters["malformed"] == 1)

        // A valid close ends it; Ben seals; then anything more is refused.
        try mallory.speaker.say(in: &log, kind: .close, text: "bye", ts: WallClock.system.now())
        try await conn.send(.conversation(.entry(conv: log.id, entry: log.entries[2].object, manifest: nil)))
        let seal = try #require(await nextMessage(&events, "conv-seal"))
        try log.addSeal(SignedObject(wireValue: try #require(seal["seal"])))
        let late = Forge.entry(conv: log.id, seq: 4, prev: log.headHash, author: mallory.identity, ts: WallClock.system.now(), signer: mallory.key)
        try await conn.send(.conversation(.entry(conv: log.id, entry: late, manifest: nil)))
        let lateSeal = ConversationSeal(conv: log.id, head: Random.bytes(32), count: 3, by: mallory.identity).signed(with: mallory.key)
        try await conn.send(.conversation(.seal(conv: log.id, seal: lateSeal)))
        let lateRefused = await eventually {
            let c = await ben.runtime.status().conversations
            return (c["entries_refused"] ?? 0) + (c["entries_for_unknown_conversations"] ?? 0) == attacks.count + 2
                && (c["seals_refused"] ?? 0) == 1
        }
        counters = await ben.runtime.status().conversations
        #expect(lateRefused, "\(counters)")

        // What Ben stored is exactly the three valid entries, and it audits.
        let store = try ben.home.open(passphrase: nil).store
        let records = try #require(try store.conversationRecords(log.id))
        #expect(records.entries.map(\.hash) == log.entries.map(\.object.hash))
        let audit = ConversationLog.audit(records, now: WallClock.system.now())
        #expect(audit.validEntries == 3 && audit.isEnded && audit.problems.count == 1 && audit.problems[0].message.contains("missing the seal by \(mallory.identity.did)"), "\(audit.problems)")

        // The honest conversation completed meanwhile, and Mallory's session is still usable.
        let kinds = await honest.value
        #expect(kinds.count >= 3 && kinds.last == "close", "\(kinds)")
        #expect(conn.isActive)
        await mallory.shutdown()
        await ada.runtime.stop()
        await ben.runtime.stop()
    }

    @Test func aUDPFloodOfForgedJunkAndReplayedDatagramsIsDroppedWhileAnHonestAnnounceGetsThrough() async throws {
        let ben = try await LANDiscoveryTests.start("ben", lanTargets: [])
        let udpPort = Int(try #require(await ben.runtime.status().udp).split(separator: ":").last!)!
        let forger = NodeKeys.generate(), victim = NodeKeys.generate()
        let valid = Datagram(from: forger.identity, net: .main, ts: WallClock.system.now(), kind: .head(seq: 1, hash: [UInt8](repeating: 1, count: 32)))
            .packet(signedWith: forger.signing)
        var forged = Datagram(from: victim.identity, net: .main, ts: WallClock.system.now(), kind: .head(seq: 9, hash: [UInt8](repeating: 2, count: 32)))
            .packet(signedWith: victim.signing)
        forged[forged.count - 1] ^= 1
        let packets: [[UInt8]] = [valid, forged, Random.bytes(200), [0xa1, 0x00]]
        // 4,000 datagrams from one address, as fast as the socket takes them.
        for i in 0..<4_000 { UDPSocket.send(packets[i % packets.count], port: udpPort, from: "127.0.0.3") }

        // An honest node on another address announces itself and is discovered (re-announcing,
        // as nodes do, in case the kernel dropped a datagram while the socket was flooded).
        let honest = NodeKeys.generate()
        var discovered = false
        for _ in 0..<5 where !discovered {
            let announce = Datagram(from: honest.identity, net: .main, ts: WallClock.system.now(),
                                    kind: .announce(tcpPort: 7999, seq: 1, hash: [UInt8](repeating: 3, count: 32))).packet(signedWith: honest.signing)
            UDPSocket.send(announce, port: udpPort)
            discovered = await eventually(1) { await ben.runtime.status().udpCounters["discovered"] == 1 }
        }
        #expect(discovered)
        let counters = await ben.runtime.status().udpCounters
        let dropped = counters.filter { $0.key.hasPrefix("dropped_") }.values.reduce(0, +)
        // The kernel may drop part of the flood before the node reads it; of what the node read,
        // almost everything was refused before any signature check.
        #expect(dropped >= 200, "\(counters)")
        #expect(Double(counters["dropped_rate_limited"] ?? 0) >= 0.9 * Double(dropped), "\(counters)")
        #expect((counters["accepted"] ?? 0) <= 40 + 5, "at most one burst from the flooder: \(counters)")
        // The node still answers its control API and TCP.
        #expect(await ben.runtime.status().connected == 0)
        await ben.runtime.stop()
    }

    @Test func numbersBeyondWhatTheStoreKeepsAreRefusedNotFatal() async throws {
        let ben = try await ProposalTests.start("ben", edits: [("connect: ask", "connect: auto")])
        let mallory = try HostilePeer.make()
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        // A friend request dated at the end of time, then a manifest whose seq SQLite cannot hold.
        for ts in [UInt64.max, UInt64(Int64.max) + 1] {
            let record = ConnectionRecord(signer: mallory.identity, other: ben.identity, ts: ts).signed(with: mallory.key)
            try await conn.send(.friend(.request(record: record, manifest: mallory.speaker.manifest)))
        }
        let huge = try Manifest(id: mallory.identity, seq: UInt64(Int64.max) + 1, ts: WallClock.system.now(), exp: 4_000_000_000_000,
                                name: "Mallory", bio: "", interests: [], model: [UInt8](repeating: 0, count: 32), endpoints: [], caps: [],
                                net: .main).signed(with: mallory.key)
        try await conn.send(.manifest(huge))
        try await Task.sleep(for: .milliseconds(300))
        #expect(await ben.runtime.relationship(with: mallory.identity) == Relationship.none)
        #expect(await ben.runtime.status().id == ben.identity.did, "the node still serves")
        #expect(conn.isActive)
        await ben.runtime.stop()
    }

    @Test func aFriendPushingForgedStaleEquivocatingAndOversizedManifestsIsRefusedFlaggedAndCounted() async throws {
        let ben = try await ProposalTests.start("ben", edits: [("connect: ask", "connect: auto"), ("converse: friends", "converse: anyone")])
        let mallory = try HostilePeer.make()
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        var events = mallory.transport.events.makeAsyncIterator()
        let record = ConnectionRecord(signer: mallory.identity, other: ben.identity, ts: WallClock.system.now()).signed(with: mallory.key)
        try await conn.send(.friend(.request(record: record, manifest: mallory.speaker.manifest)))
        #expect(await nextMessage(&events, "friend-accept") != nil)

        func manifest(seq: UInt64, bio: String, id: Identity? = nil, key: Ed25519.KeyPair? = nil) throws -> SignedObject {
            try Manifest(id: id ?? mallory.identity, seq: seq, ts: WallClock.system.now(), exp: 4_000_000_000_000, name: "Mallory", bio: bio,
                         interests: [], model: [UInt8](repeating: 0, count: 32), endpoints: [], caps: [], net: .main).signed(with: key ?? mallory.key)
        }
        func push(_ object: SignedObject) async throws {
            try await conn.send(.gossip(.push(manifests: [object], records: [])))
        }
        let before = await ben.runtime.status().gossip
        try await push(try manifest(seq: 5, bio: "honest update"))
        #expect(await eventually { await ben.runtime.status().gossip["manifests_accepted"] == (before["manifests_accepted"] ?? 0) + 1 })

        // A forged signature, and a manifest claiming someone else's identity.
        let good = try manifest(seq: 6, bio: "tampered")
        var sig = good.sig
        sig[0] ^= 1
        try await push(try SignedObject(type: good.type, bytes: good.bytes, sig: sig))
        let eve = Ed25519.KeyPair.generate()
        try await push(try SignedObject(type: "manifest", bytes: try manifest(seq: 9, bio: "I am Eve", id: Identity(publicKey: eve.publicKey), key: eve).bytes,
                                        sig: good.sig))
        // Oversized: a validly signed object over the manifest size limit.
        try await push(SignedObject.sign(type: "manifest", payload: .textMap(["bio": .text(String(repeating: "x", count: Manifest.maxBytes + 1))]),
                                         with: mallory.key))
        // Stale: a lower seq than the one held.
        try await push(try manifest(seq: 4, bio: "an old version"))
        // Equivocation: a second, different manifest with the same seq 5.
        try await push(try manifest(seq: 5, bio: "a conflicting version"))

        let flagged = await eventually { await ben.runtime.status().gossip["equivocations"] ?? 0 >= 1 }
        let after = await ben.runtime.status().gossip
        #expect(flagged, "\(after)")
        #expect((after["rejected"] ?? 0) - (before["rejected"] ?? 0) >= 3, "forged, foreign and oversized: \(after)")
        #expect((after["stale"] ?? 0) - (before["stale"] ?? 0) >= 1, "\(after)")
        #expect(after["manifests_accepted"] == (before["manifests_accepted"] ?? 0) + 1, "only the honest update was accepted: \(after)")

        // Ben holds the honest seq 5, shows Mallory as equivocating, and refuses to talk with her.
        let store = try ben.home.open(passphrase: nil).store
        let held = try #require(try store.manifest(of: mallory.identity))
        #expect(held.manifest.seq == 5 && held.manifest.bio == "honest update" && held.equivocating)
        _ = try await mallory.openConversation(with: ben.identity, over: conn, topic: "hi", maxTurns: 4, text: "hello")
        let reply = try #require(await nextMessage(&events, "conv-entry"))
        let answer = try ConversationEntry.verify(SignedObject(wireValue: try #require(reply["entry"])))
        #expect(answer.kind == .decline && answer.text.contains("conflicting manifests"), "\(answer.text)")

        // Honest peers are still served.
        let ada = try await ProposalTests.start("ada", edits: [])
        let outcome = await ada.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port)
        #expect(outcome.outcome == .accepted, "\(outcome)")
        await mallory.shutdown()
        await ada.runtime.stop()
        await ben.runtime.stop()
    }
}
