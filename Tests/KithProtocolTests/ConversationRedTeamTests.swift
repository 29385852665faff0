import Foundation
import KithCrypto
import KithModel
import KithProtocol
import KithTestSupport
import Testing

/// Found by a red team: attacks on the conversation engine's time rules, crossing opens and the
/// kithlog view check, kept as regression tests.
@Suite("Red team: time rules, crossing opens, kithlog views")
struct ConversationRedTeamTests {
    static let now = ConversationPair.now
    static let day: UInt64 = 86_400_000
    static let stranger = PeerStanding(isFriend: false, hops: nil, equivocating: false, conversationsToday: 0)

    static func isAck(_ a: ConversationAction) -> Bool { if case .send(_, .ack) = a { true } else { false } }
    static func isPersist(_ a: ConversationAction) -> Bool {
        switch a {
        case .persistConversation, .persistEntry: true
        default: false
        }
    }
    static func isTurn(_ a: ConversationAction) -> Bool { if case .requestTurn = a { true } else { false } }

    /// An open from `mallory` to `node` whose header is dated `headerTS`, entry 1 at the same time.
    static func open(from mallory: Speaker, to node: Identity, headerTS: UInt64, manifest: SignedObject? = nil,
                     model: [UInt8]? = nil) throws -> (ConversationMessage, [UInt8]) {
        let header = ConversationHeader(from: mallory.identity, to: node, topic: "old", ts: headerTS, net: .main, maxTurns: 10)
            .signed(with: mallory.key)
        var log = try ConversationLog(header: header)
        let carried = manifest ?? mallory.manifest
        try log.addManifest(carried)
        let entry = log.makeEntry(key: mallory.key, kind: .say, text: "hello", model: model ?? mallory.model, disclosed: [], ts: headerTS,
                                  producer: .ai(engine: "test"))
        try log.append(entry)
        return (.open(header: header, entry: entry, manifest: carried), log.id)
    }

    // MARK: - An open older than the 30-day lifetime was stored and acknowledged, but nothing could
    // follow it (no decline, no turn, no close): the node kept it live forever and asked its model
    // for a turn on every conv-sync. Now it is refused before anything is stored.

    @Test func aStrangersOpenDatedBeforeTheLifetimeIsRefusedOrEndedNotLeftLiveForever() throws {
        let node = Speaker(name: "Node")
        var engine = ConversationEngine(key: node.key, network: .main, policy: IdentityModel.Policy(), manifest: node.manifest)
        let mallory = Speaker(name: "Mallory")
        let (message, conv) = try Self.open(from: mallory, to: node.identity, headerTS: Self.now - 31 * Self.day)
        let actions = engine.receive(message, from: mallory.identity, now: Self.now, standing: Self.stranger)
        let acked = actions.contains(where: Self.isAck)
        let live = engine.log(conv)
        // Either refused outright, or answered (declined) so that it ends.
        #expect(!acked || live == nil || live!.isEnded,
                "acknowledged and left open with \(live?.count ?? -1) entries: the node's decline cannot be dated within 30 days of the header")

        // The stranger, refused by policy (converse: fof), now makes the node ask its model for a
        // turn at will: once per conv-sync (4 a second after a burst of 64).
        var turns = 0
        for i in 0..<20 {
            let synced = engine.receive(.sync(conv: conv, count: 1), from: mallory.identity, now: Self.now + UInt64(i) * 1_000, standing: Self.stranger)
            turns += synced.filter(Self.isTurn).count
            // The node's persona "answers"; the node cannot write it (dated too late) and forgets the request.
            _ = engine.turnProduced(conv, ProducedTurn(kind: .say, text: "public memory", producer: .ai(engine: "test")), now: Self.now + UInt64(i) * 1_000 + 1)
        }
        #expect(turns == 0, "the model was asked \(turns) times for a conversation policy refused")
        #expect(!engine.unfinishedPeers.contains(mallory.identity), "the node will redial and resync this stranger forever")

        // Nothing of it is live to close.
        let closed = (try? engine.close(conv, reason: "bye", now: Self.now + 60_000)) ?? []
        #expect(closed.contains(where: Self.isPersist) || engine.log(conv) == nil, "kith close wrote nothing: \(closed)")
    }

    @Test func anOpenDatedIn1970IsRefusedNotAcknowledged() throws {
        let node = Speaker(name: "Node")
        var engine = ConversationEngine(key: node.key, network: .main, policy: IdentityModel.Policy(), manifest: node.manifest)
        let mallory = Speaker(name: "Mallory")
        // A manifest "issued" in 1970 and valid for 100 years: Manifest.verify(now:) only checks exp.
        let old = try Manifest(id: mallory.identity, seq: 1, ts: 0, exp: Self.now + 100 * 365 * Self.day, name: "Mallory", bio: "", interests: [],
                               model: mallory.model, endpoints: [], caps: [], net: .main).signed(with: mallory.key)
        let (message, conv) = try Self.open(from: mallory, to: node.identity, headerTS: 1_000, manifest: old)
        let friend = PeerStanding(isFriend: true, hops: 1, equivocating: false, conversationsToday: 0)
        let actions = engine.receive(message, from: mallory.identity, now: Self.now, standing: friend)
        let acked = actions.contains(where: Self.isAck)
        #expect(!acked, "a conversation dated 1970 was stored and acknowledged")
        // What the node stored fails the node's own audit.
        if let log = engine.log(conv) {
            let audit = ConversationLog.audit(ConversationRecords(log), now: Self.now)
            #expect(audit.problems.isEmpty || !acked, "stored, acked, and the audit says: \(audit.problems)")
        }
    }

    /// Honest peers: A opens while B is away for 31 days. A ends it itself (a close by rule, dated
    /// at the lifetime's end, and its seal), B refuses the stale open, and neither keeps it live.
    @Test func aConversationWhosePeerWasAwayLongerThanTheLifetimeIsEnded() throws {
        var pair = ConversationPair()
        pair.disconnect()
        let conv = try pair.open(from: 0)
        pair.takeTurns(0)
        pair.run()
        pair.wait(31 * Self.day)
        pair.reconnect()
        pair.run()
        pair.wait(10_000)
        pair.run()
        let a = pair.a.identity, b = pair.b.identity
        let ended = try #require(pair.a.stored[conv])
        #expect(ended.isEnded && ended.seals[a] != nil, "A closed and sealed it")
        let close = try #require(ended.entries.last?.entry)
        #expect(close.kind == .close && close.producer == .node && close.ts <= ended.header.ts + ConversationLog.lifetime)
        #expect(ConversationLog.audit(ConversationRecords(ended)).problems.allSatisfy { $0.record == "log" }, "valid, only unsealed by B")
        #expect(pair.b.stored[conv] == nil, "B refused an open past its lifetime")
        #expect(!pair.b.engine.unfinishedPeers.contains(a) && !pair.a.engine.unfinishedPeers.contains(b),
                "neither side keeps an unanswerable conversation live (resync, redial, model turns)")
    }

    // MARK: - Crossing opens were decided on different facts on the two sides

    /// B has an old opening to A that A never received (lost); A opens now; B's old one reaches A
    /// (by sync) while A's fresh one is unanswered. A counts it as crossing (its own is fresh), B
    /// does not (its own is old), so the two sides disagree on which conversation continues.
    @Test func crossingIsDecidedTheSameWayOnBothSides() throws {
        // Ids are random: repeat until B's old id is the smaller one (A then lets its own give way).
        for _ in 0..<40 {
            var pair = ConversationPair()
            pair.disconnect()
            let old = try pair.open(from: 1, topic: "old")
            pair.takeTurns(1)  // B wrote entry 1 of "old", lost on the wire
            pair.wait(60_000)
            pair.connected = true
            let fresh = try pair.open(from: 0, topic: "fresh")
            guard old.lexicographicallyPrecedes(fresh) else { continue }
            pair.takeTurns(0)  // A's "fresh" is in flight
            // B resumes (sync for "old"); A asks for it and receives it while its own is unanswered.
            pair.perform(pair.sides[1].engine.peerConnected(pair.a.identity, now: pair.clock), side: 1)
            pair.run()
            let aSuperseded = pair.a.actions.contains { if case .report(fresh, .superseded(by: old)) = $0 { true } else { false } }
            let bDeclinedFresh = pair.b.stored[fresh]?.entries.last?.entry.text.contains("same moment") == true
            #expect(!aSuperseded || bDeclinedFresh,
                    "A moved its person to B's older 'old' (superseded) but B answered 'fresh' normally: 'fresh' has \(pair.a.stored[fresh]?.count ?? 0) entries, 'old' \(pair.a.stored[old]?.count ?? 0)")
            return
        }
        Issue.record("no run with the wanted id order")
    }

    // MARK: - kithlog views

    /// A view with a duplicated key: a parser keeps one value, a reader may see the other.
    @Test func aKithlogViewWithDuplicateKeysIsRefused() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        let log = try #require(pair.a.stored[conv])
        let text = KithLog.export(ConversationRecords(log))
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Line 1 meta, 2 header, 3-4 manifests, 5 entry 1.
        let index = try #require(lines.firstIndex { $0.contains(#""type":"entry""#) })
        let original = lines[index]
        let forged = original.replacingOccurrences(of: #","view":{"#, with: #","view":{"text":"I promise to pay 1000 EUR","#)
        #expect(forged != original)
        lines[index] = forged
        #expect { try KithLog.parse(Array(lines.joined(separator: "\n").utf8)) } throws: {
            ($0 as? LogProblem)?.record == "file line \(index + 1)" && "\($0)".contains("each key once")
        }
    }

    /// `kith audit FILE` on a hostile file: a `view` that is not a JSON object (a string, null, a
    /// bool, a number) trapped in `JSONSerialization.data(withJSONObject:)` instead of being
    /// refused. Run in a child process (the built `kith`), so a trap cannot take the runner down.
    @Test(arguments: ["\"x\"", "null", "true", "7", "[1,2]", "{\"seq\":-1}"])
    func aKithlogViewThatIsNotAnObjectIsRefusedWithoutATrap(view: String) throws {
        let kith = Fixtures.packageRoot.appendingPathComponent(".build/debug/kith")
        try #require(FileManager.default.isExecutableFile(atPath: kith.path))
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        let log = try #require(pair.a.stored[conv])
        var lines = KithLog.export(ConversationRecords(log)).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let index = try #require(lines.firstIndex { $0.contains(#""type":"entry""#) })
        lines[index] = lines[index].components(separatedBy: #","view":"#)[0] + #","view":"# + view + "}"
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rt13-\(UUID().uuidString).kithlog")
        try Data(lines.joined(separator: "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = ChildProcess()
        process.executableURL = kith
        process.arguments = ["audit", file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.runUnblocked()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 1,
                "kith audit on a view \(view): reason \(process.terminationReason.rawValue), status \(process.terminationStatus)")
    }
}
