import KithCrypto
import KithModel
import KithProtocol
import KithTestSupport
import Testing

@Suite("Conversation engine, two engines and no sockets")
struct ConversationEngineTests {
    /// Both sides hold the same complete, audited conversation.
    static func expectComplete(_ pair: ConversationPair, _ conv: [UInt8], entries: Int? = nil) {
        for side in pair.sides {
            let log = side.stored[conv]
            #expect(log?.isComplete == true, "complete at \(side.identity.did.suffix(6))")
            #expect(side.engine.log(conv) == nil, "no longer live")
            if let entries { #expect(log?.count == entries) }
            if let log {
                let audit = ConversationLog.audit(ConversationRecords(log), now: pair.clock)
                #expect(audit.problems.isEmpty && audit.isComplete)
            }
        }
        #expect(pair.a.stored[conv]?.headHash == pair.b.stored[conv]?.headHash)
    }

    /// A refused conversation: its opener holds it complete (the decline, both seals), the
    /// refusing side kept nothing.
    static func expectRefused(_ pair: ConversationPair, _ conv: [UInt8], opener: Int) {
        let log = pair.sides[opener].stored[conv]
        #expect(log?.isComplete == true && log?.count == 2, "complete at the opener")
        #expect(pair.sides[1 - opener].stored[conv] == nil, "nothing kept by the refusing side")
        #expect(pair.sides[1 - opener].engine.log(conv) == nil)
        if let log { #expect(ConversationLog.audit(ConversationRecords(log), now: pair.clock).isComplete) }
    }

    @Test func aConversationRunsToBothSealsAndEveryAckFollowsItsPersist() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        Self.expectComplete(pair, conv, entries: 5)
        // Entries alternate and the close ends it: say ×4, close.
        #expect(pair.a.stored[conv]!.entries.map(\.entry.kind) == [.say, .say, .say, .say, .close])
        // No acknowledgement of an entry before the action that stores it.
        for side in pair.sides {
            var persisted: Set<UInt64> = []
            for action in side.actions {
                if case .persistConversation = action { persisted.insert(1) }
                if case .persistEntry(_, let seq, _, _, _) = action { persisted.insert(seq) }
                if case .send(_, .ack(_, let seq)) = action { #expect(persisted.contains(seq), "ack \(seq) before its persist") }
            }
        }
        #expect(pair.b.engine.counters.opened == 1 && pair.b.engine.counters.entriesAccepted == 2)
        #expect(pair.a.engine.acknowledged.isEmpty)
    }

    @Test func lostMessagesAreResentWhenTheSessionComesBack() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run(maxSteps: 3)  // the open and a reply are under way
        pair.disconnect()
        pair.run()  // turns are written and stored but lost on the wire
        #expect(pair.a.stored[conv]?.isComplete != true)
        pair.reconnect()
        pair.run()
        Self.expectComplete(pair, conv, entries: 5)
    }

    @Test func aRestartedSideResumesFromWhatItStored() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run(maxSteps: 4)
        pair.disconnect()
        pair.sides[1].restart()
        pair.sides[0].restart()
        pair.reconnect()
        pair.run()
        Self.expectComplete(pair, conv, entries: 5)
    }

    @Test func anOpenLostOnTheWireIsSentAgainOnTheNextSession() throws {
        var pair = ConversationPair()
        pair.disconnect()
        let conv = try pair.open(from: 0)
        pair.run()  // the open is stored by A and lost
        #expect(pair.b.stored[conv] == nil)
        // A syncs (1 entry); B holds none and says so; A sends the open again.
        pair.reconnect()
        pair.run()
        Self.expectComplete(pair, conv, entries: 5)
    }

    @Test func bothSidesOpeningAtTheSameMomentEndInOneConversationBothHold() throws {
        // Both openings written and in flight at once.
        var pair = ConversationPair()
        let one = try pair.open(from: 0, topic: "one")
        pair.takeTurns(0)
        let two = try pair.open(from: 1, topic: "two")
        pair.takeTurns(1)
        pair.run()
        let (winner, loser) = one.lexicographicallyPrecedes(two) ? (one, two) : (two, one)
        Self.expectComplete(pair, winner)
        #expect(pair.a.stored[winner]!.count > 2, "the conversation goes on in the smaller id")
        // The other ends at once with its responder's decline, written by the node: its opener
        // holds it complete (both seals); the responder kept nothing of it.
        let loserSide = loser == one ? 0 : 1
        Self.expectRefused(pair, loser, opener: loserSide)
        let decline = try #require(pair.sides[loserSide].stored[loser]?.entries.last?.entry)
        #expect(decline.kind == .decline && decline.producer == .node && decline.text.contains("same moment"))
        // The side whose opening gave way told its followers to follow the winner.
        #expect(pair.sides[loserSide].actions.contains { if case .report(loser, .superseded(by: winner)) = $0 { true } else { false } })

        // One side had not even written its opening yet: it gives way, and only one conversation exists.
        var early = ConversationPair()
        let first = try early.open(from: 0, topic: "first")
        let unwritten = try early.open(from: 1, topic: "unwritten")
        early.run()
        Self.expectComplete(early, first)
        #expect(early.a.stored[unwritten] == nil && early.b.stored[unwritten] == nil)
        #expect(early.b.actions.contains { if case .report(unwritten, .superseded(by: first)) = $0 { true } else { false } })

        // An opening the peer never answered long ago is not "the same moment": the peer's new
        // conversation is answered, not declined.
        var stale = ConversationPair()
        let old = try stale.open(from: 0, topic: "old")
        stale.takeTurns(0)
        stale.loseInFlight()
        stale.wait(60_000)
        let fresh = try stale.open(from: 1, topic: "fresh")
        stale.run()
        #expect(stale.a.stored[fresh]?.count ?? 0 > 2, "answered, not declined")
        #expect(stale.a.engine.log(old) != nil, "the old one still waits for its peer")
    }

    @Test(arguments: [
        (PeerStanding(isFriend: false, hops: 3, equivocating: false, conversationsToday: 0), "friends and friends of friends"),
        (PeerStanding(isFriend: nil, hops: 1, equivocating: false, conversationsToday: 0), "cannot check who you are"),
        (PeerStanding(isFriend: true, hops: 1, equivocating: false, conversationsToday: nil), "cannot count today"),
        (PeerStanding(isFriend: true, hops: 1, equivocating: false, conversationsToday: 99), "enough conversations"),
        (PeerStanding(isFriend: true, hops: 1, equivocating: true, conversationsToday: 0), "conflicting manifests"),
    ])
    func policyRefusesWithASignedDeclineAndUnknownFactsRefuse(standing: PeerStanding, reason: String) throws {
        var pair = ConversationPair()
        pair.sides[1].standing = standing
        let conv = try pair.open(from: 0)
        pair.run()
        Self.expectRefused(pair, conv, opener: 0)
        let decline = try #require(pair.a.stored[conv]?.entries.last?.entry)
        #expect(decline.kind == .decline && decline.author == pair.b.identity && decline.text.contains(reason), "\(decline.text)")
        // Written by the node by a rule: no model, and the refused side receives no profile.
        #expect(decline.producer == .node && decline.model == ConversationLog.nodeModel)
        #expect(pair.a.stored[conv]?.manifests.map(\.manifest.id) == [pair.a.identity])
        // The refusal was decided before the engine asked for any turn, and nothing was stored.
        #expect(!pair.b.actions.contains { if case .requestTurn = $0 { true } else { false } })
        #expect(!pair.b.actions.contains { if case .persistConversation = $0 { true } else { false } })
        #expect(pair.b.engine.counters.refused == 1 && pair.b.engine.counters.opened == 0)
    }

    @Test func aRefusalKeepsNothingAndTheSameOpenRefusedAgainGivesTheSameBytes() throws {
        var pair = ConversationPair()
        pair.sides[1].standing = PeerStanding(isFriend: false, hops: nil, equivocating: false, conversationsToday: 0)
        let conv = try pair.open(from: 0)
        pair.run()
        Self.expectRefused(pair, conv, opener: 0)
        // The open again (as after a lost seal): the very same decline and seal come back.
        let open = try #require(pair.a.actions.lazy.compactMap { if case .send(_, let m) = $0, case .open = m { m } else { nil } }.first)
        var b = pair.sides[1].engine
        let again = b.receive(open, from: pair.a.identity, now: pair.clock + 5_000, standing: pair.b.standing)
        let first = pair.b.actions.compactMap { if case .send(_, let m) = $0 { m } else { nil } }
        let second = again.compactMap { if case .send(_, let m) = $0 { m } else { nil } }
        #expect(!second.isEmpty && second == Array(first.suffix(second.count)), "deterministic refusal")
        // A flood of opens is answered a few times, then dropped unanswered.
        var answered = 0
        for i in 0..<100 {
            answered += b.receive(open, from: pair.a.identity, now: pair.clock + 6_000 + UInt64(i), standing: pair.b.standing).isEmpty ? 0 : 1
        }
        #expect(answered <= 16 && b.counters.refusalsRateLimited >= 84)
    }

    @Test func aLongerConversationThanThePolicyAllowsIsDeclined() throws {
        var pair = ConversationPair()
        pair.sides[1].engine.policy.maxTurns = 6
        let conv = try pair.open(from: 0, turns: 20)
        pair.run()
        #expect(pair.a.stored[conv]?.entries.last?.entry.kind == .decline)
    }

    @Test func theTurnLimitLeavesOnlyACloseAndAnUnansweredAcceptBecomesASay() throws {
        var pair = ConversationPair()
        pair.sides[0].persona = { _ in ProducedTurn(kind: .accept, text: "yes!", producer: .ai(engine: "test")) }
        pair.sides[1].persona = { _ in ProducedTurn(kind: .say, text: "and then?", producer: .ai(engine: "test")) }
        let conv = try pair.open(from: 0, turns: 4)
        pair.run()
        Self.expectComplete(pair, conv)
        let kinds = pair.a.stored[conv]!.entries.map(\.entry.kind)
        #expect(kinds == [.say, .say, .say, .say, .close], "\(kinds)")
    }

    @Test func aProposalAcceptedByThePeerIsReportedToTheProposer() throws {
        var pair = ConversationPair()
        pair.sides[0].persona = { log in ProducedTurn(kind: log.count == 0 ? .say : log.count == 2 ? .propose : .close, text: "shall we?", producer: .ai(engine: "test")) }
        pair.sides[1].persona = { log in ProducedTurn(kind: log.entries.last?.entry.kind == .propose ? .accept : .say, text: "ok", producer: .ai(engine: "test")) }
        let conv = try pair.open(from: 0)
        pair.run()
        Self.expectComplete(pair, conv)
        // Both nodes learn that their AIs agreed; each person decides for themselves.
        #expect(pair.a.actions.contains { if case .proposalAccepted(_, let with) = $0 { with == pair.b.identity } else { false } })
        #expect(pair.b.actions.contains { if case .proposalAccepted(_, let with) = $0 { with == pair.a.identity } else { false } })
        #expect(pair.a.actions.filter { if case .proposalAccepted = $0 { true } else { false } }.count == 1)
    }

    @Test func closingWhileThePeerIsAwaySealsHereAndTheReturningPeerSealsTheSameHead() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run(maxSteps: 4)
        pair.disconnect()
        pair.run()
        pair.perform(try pair.sides[0].engine.close(conv, reason: "gone quiet", now: ConversationPair.now + 100), side: 0)
        #expect(pair.a.stored[conv]?.state == .ended)
        pair.reconnect()
        pair.run()
        // B wrote an entry A never received: the logs diverge at that seq, each valid and sealed
        // only by its holder (Protocol/conversation.md, closing an interrupted conversation).
        let aLog = try #require(pair.a.stored[conv]), bLog = try #require(pair.b.stored[conv])
        #expect(aLog.headHash != bLog.headHash && aLog.count == bLog.count)
        #expect(aLog.state == .ended && aLog.seals.count == 1 && bLog.seals[pair.a.identity] == nil)
        #expect(pair.b.engine.counters.sealsRefused >= 1, "A's seal over another head is refused by B")
        #expect(throws: LogProblem.self) { try pair.sides[0].engine.close([UInt8](repeating: 1, count: 32), reason: "x", now: 0) }
    }

    @Test func aFailingPersonaClosesWithAReasonAndBeforeTheFirstEntryNothingIsOpened() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run(maxSteps: 3)
        let failed = pair.sides[1].engine.turnFailed(conv, reason: "model offline", now: ConversationPair.now + 50)
        pair.perform(failed, side: 1)
        pair.sides[1].engine.turnFailed(conv, reason: "again", now: 0).forEach { _ in Issue.record("a second failure writes nothing") }
        pair.run()
        #expect(pair.b.stored[conv]?.entries.contains { $0.entry.kind == .close && $0.entry.text.contains("model offline") } == true)

        var other = ConversationPair()
        let (id, _) = try other.sides[0].engine.open(to: other.b.identity, topic: "t", turns: nil, now: ConversationPair.now)
        let dropped = other.sides[0].engine.turnFailed(id, reason: "no engine", now: ConversationPair.now)
        #expect(dropped.count == 1 && other.sides[0].engine.log(id) == nil)
        #expect(!dropped.contains { if case .persistConversation = $0 { true } else { false } })
    }

    @Test func hostileEntriesAndSealsAreRefusedAndNeverPersisted() throws {
        var pair = ConversationPair()
        pair.sides[1].persona = { _ in ProducedTurn(kind: .say, text: "hm", producer: .ai(engine: "test")) }
        let conv = try pair.open(from: 0, turns: 10)
        pair.run(maxSteps: 2)  // B holds entry 1 and wrote entry 2
        let mallory = Ed25519.KeyPair.generate()
        let log = pair.b.engine.log(conv)!
        let stranger = Identity(publicKey: mallory.publicKey)
        var b = pair.sides[1].engine
        let before = pair.b.actions.count
        let forged = Forge.entry(conv: conv, seq: 2, prev: log.headHash, author: pair.a.identity, text: "forged", signer: mallory)
        let actions = [
            b.receive(.entry(conv: conv, entry: forged, manifest: nil), from: pair.a.identity, now: pair.clock, standing: pair.b.standing),
            b.receive(.entry(conv: conv, entry: log.entries[0].object, manifest: nil), from: pair.a.identity, now: pair.clock,
                      standing: pair.b.standing),
            b.receive(.entry(conv: conv, entry: log.entries[0].object, manifest: nil), from: stranger, now: pair.clock, standing: pair.b.standing),
            b.receive(.seal(conv: conv, seal: log.makeSeal(key: mallory)), from: pair.a.identity, now: 1, standing: pair.b.standing),
            b.receive(.ack(conv: conv, seq: 999), from: pair.a.identity, now: 1, standing: pair.b.standing),
        ].flatMap { $0 }
        #expect(!actions.contains { if case .persistEntry = $0 { true } else if case .persistSeal = $0 { true } else { false } })
        #expect(b.counters.entriesRefused == 1 && b.counters.duplicates == 1 && b.counters.entriesForUnknownConversations == 1)
        #expect(b.counters.sealsRefused == 1)
        #expect(b.acknowledged[conv] == 1, "an ack beyond the log is ignored")
        #expect(pair.b.actions.count == before)
    }

    @Test func anOpenThatBreaksTheRulesIsRefusedAndARepeatIsADuplicate() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        let open = try #require(pair.a.actions.lazy.compactMap { if case .send(_, let m) = $0, case .open = m { m } else { nil } }.first)
        var b = pair.sides[1].engine
        #expect(b.receive(open, from: pair.a.identity, now: pair.clock, standing: pair.b.standing).isEmpty)
        #expect(b.counters.duplicates == 1)
        // The same open from someone who is not its initiator.
        let third = ConversationEngine(key: .generate(), network: .main, policy: IdentityModel.Policy(), manifest: Speaker().manifest)
        var c = third
        _ = c.receive(open, from: pair.a.identity, now: pair.clock, standing: pair.b.standing)
        #expect(c.counters.opensRefused == 1 && c.log(conv) == nil)
    }

    // MARK: - Found by the red team

    @Test func aRefusedOneTurnOpenIsClosedAndNeverAsksTheModel() throws {
        var pair = ConversationPair()
        pair.sides[1].standing = PeerStanding(isFriend: false, hops: nil, equivocating: false, conversationsToday: 0)
        let conv = try pair.open(from: 0, turns: 1)
        pair.run()
        let last = try #require(pair.a.stored[conv]?.entries.last?.entry)
        #expect(last.kind == .close && last.author == pair.b.identity, "\(last.kind)")
        // Syncs from the stranger never make B take a turn.
        for _ in 0..<3 { pair.perform([.send(to: pair.b.identity, .sync(conv: conv, count: 1))], side: 0) }
        pair.run()
        #expect(!pair.b.actions.contains { if case .requestTurn = $0 { true } else { false } })
    }

    @Test func aNodeThatLostAConversationCannotStartAReplayStorm() throws {
        var pair = ConversationPair()
        pair.sides[1].persona = { _ in ProducedTurn(kind: .say, text: "more", producer: .ai(engine: "test")) }
        pair.sides[0].persona = { _ in ProducedTurn(kind: .say, text: "more", producer: .ai(engine: "test")) }
        let conv = try pair.open(from: 0, turns: 40)
        pair.run(maxSteps: 30)
        // A (the initiator) loses its database; B still holds the conversation.
        pair.disconnect()
        pair.sides[0].stored = [:]
        pair.sides[0].restart()
        pair.reconnect()
        let sentBefore = pair.b.actions.filter { if case .send = $0 { true } else { false } }.count
        let steps = pair.run(maxSteps: 5_000)
        let sent = pair.b.actions.filter { if case .send = $0 { true } else { false } }.count - sentBefore
        #expect(steps < 200, "the exchange settles (\(steps) steps)")
        #expect(sent <= 2 * (pair.b.engine.log(conv)?.count ?? 40) + 4, "B replays the log at most once this session (\(sent) messages)")
    }

    @Test func syncsAPeerRepeatsAreAnsweredAFewTimesASecondAtMost() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        var replays = 0
        var a = pair.sides[0].engine
        let b = pair.b.identity, standing = pair.a.standing
        for _ in 0..<1_000 {
            let actions = a.receive(.sync(conv: conv, count: 0), from: b, now: 1_000, standing: standing)
            replays += actions.filter { if case .replayCompleted = $0 { true } else { false } }.count
        }
        #expect(replays == 64, "the burst, then nothing (\(replays))")
        #expect(a.counters.syncsRateLimited == 1_000 - 64)
        // Later the peer may ask again.
        #expect(a.receive(.sync(conv: conv, count: 0), from: b, now: 2_000, standing: standing).count == 1)
    }

    @Test func aSealLostToACrashIsSignedOnTheNextSession() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run()
        // B crashed after storing the close, before storing its seal: rebuild B from a log without it.
        let full = try #require(pair.b.stored[conv])
        var withoutSeal = try ConversationLog(header: full.headerObject)
        for (object, _) in full.manifests { try withoutSeal.addManifest(object) }
        for (object, _) in full.entries { try withoutSeal.append(object) }
        try withoutSeal.addSeal(full.seals[pair.a.identity]!.object)
        pair.sides[1].stored[conv] = withoutSeal
        pair.sides[1].restart()
        #expect(pair.b.engine.log(conv) != nil)
        let actions = pair.sides[1].engine.peerConnected(pair.a.identity, now: ConversationPair.now)
        #expect(actions.contains { if case .persistSeal(_, let by, _, _) = $0 { by == pair.b.identity } else { false } })
    }

    @Test func longTextIsCutAtACharacterBoundaryNotEmptied() throws {
        var pair = ConversationPair()
        pair.sides[0].persona = { log in ProducedTurn(kind: log.count >= 2 ? .close : .say, text: String(repeating: "é", count: 3_000), producer: .ai(engine: "test")) }
        let conv = try pair.open(from: 0)
        pair.run()
        let text = try #require(pair.a.stored[conv]?.entries.first?.entry.text)
        #expect(text.utf8.count <= ConversationEntry.maxText && text.utf8.count >= ConversationEntry.maxText - 1 && text.allSatisfy { $0 == "é" })
    }

    @Test func messagesLostInsideASessionAreRecoveredAfterAQuietSpell() throws {
        var pair = ConversationPair()
        pair.reconnect()  // both engines know the session
        let conv = try pair.open(from: 0)
        pair.run(maxSteps: 3)
        // The link drops data for a while, and neither side notices (e.g. messages sent on a
        // duplicate session that was being closed).
        pair.loseInFlight()
        pair.connected = false
        pair.run()
        pair.connected = true
        pair.run()
        #expect(pair.a.stored[conv]?.isComplete != true, "the conversation stalled")
        for _ in 0..<20 where pair.a.stored[conv]?.isComplete != true || pair.b.stored[conv]?.isComplete != true {
            pair.wait(6_000)
            pair.run()
        }
        Self.expectComplete(pair, conv, entries: 5)
        // Once complete, time passing sends nothing more.
        let before = pair.a.actions.count + pair.b.actions.count
        pair.wait(600_000)
        #expect(pair.a.actions.count + pair.b.actions.count == before)
    }

    // MARK: - Authorship and model commitments (issue 13 item 5)

    @Test func eachSideBringsItsManifestOnceAndEveryEntrySaysWhoProducedIt() throws {
        var pair = ConversationPair()
        pair.sides[1].persona = { log in ProducedTurn(kind: log.count >= 4 ? .close : .say, text: "typed", producer: .person) }
        let conv = try pair.open(from: 0)
        pair.run()
        Self.expectComplete(pair, conv, entries: 5)
        for side in pair.sides {
            let log = try #require(side.stored[conv])
            #expect(Set(log.manifests.map(\.object)) == [pair.a.speaker.manifest, pair.b.speaker.manifest])
            for (_, entry) in log.entries {
                #expect(entry.version == 2)
                #expect(entry.producer == (entry.author == pair.a.identity ? .ai(engine: "test") : .person))
            }
        }
        // Each manifest crossed the wire once: with the open and with B's first entry.
        let carried = pair.sides.flatMap(\.actions).filter {
            if case .send(_, .open) = $0 { true } else if case .send(_, .entry(_, _, _?)) = $0 { true } else { false }
        }
        #expect(carried.count == 2)
        #expect(KithLog.export(ConversationRecords(pair.a.stored[conv]!)) == KithLog.export(ConversationRecords(pair.b.stored[conv]!)))
    }

    @Test func aModelChangedMidConversationBringsTheNewManifestWithTheNextEntry() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0, turns: 10)
        pair.run(maxSteps: 4)
        let updated = Speaker(key: pair.a.key, name: "Updated", model: [UInt8](repeating: 7, count: 32))
        pair.sides[0].engine.use(manifest: updated.manifest)
        pair.run()
        Self.expectComplete(pair, conv)
        let log = try #require(pair.b.stored[conv])
        #expect(log.manifests.count == 3)
        #expect(log.entries.contains { $0.entry.author == pair.a.identity && $0.entry.model == updated.model })
    }

    @Test func entriesWithoutTheirAuthorsManifestFromTheFutureOrOfVersion1AreRefused() throws {
        var pair = ConversationPair()
        pair.sides[1].persona = { _ in ProducedTurn(kind: .say, text: "hm", producer: .ai(engine: "test")) }
        let conv = try pair.open(from: 0, turns: 10)
        pair.run(maxSteps: 4)  // A wrote entry 1, B stored it, A got the ack, B wrote entry 2
        var b = pair.sides[1].engine
        let log = b.log(conv)!
        try #require(log.count == 2)
        let a = pair.a.speaker
        let now = pair.clock
        func entry(model: [UInt8]? = nil, ts: UInt64 = 0, v1: Bool = false) -> SignedObject {
            ConversationEntry(conv: conv, seq: 3, prev: log.headHash, author: a.identity, ts: ts == 0 ? now : ts, kind: .say, text: "three",
                              model: model ?? a.model, disclosed: [], producer: v1 ? nil : .ai(engine: "test")).signed(with: a.key)
        }
        let stranger = Speaker(model: [UInt8](repeating: 5, count: 32))
        let attacks: [(String, ConversationMessage)] = [
            ("a model commitment in no manifest", .entry(conv: conv, entry: entry(model: [UInt8](repeating: 3, count: 32)), manifest: nil)),
            ("someone else's manifest", .entry(conv: conv, entry: entry(model: stranger.model), manifest: stranger.manifest)),
            ("this node's own manifest", .entry(conv: conv, entry: entry(model: pair.b.speaker.model), manifest: pair.b.speaker.manifest)),
            ("dated an hour ahead", .entry(conv: conv, entry: entry(ts: now + 3_600_000), manifest: nil)),
            ("dated before entry 2", .entry(conv: conv, entry: entry(ts: log.entries[1].entry.ts - 1), manifest: nil)),
            ("version 1", .entry(conv: conv, entry: entry(v1: true), manifest: nil)),
        ]
        for (name, message) in attacks {
            let actions = b.receive(message, from: a.identity, now: now, standing: pair.b.standing)
            #expect(!actions.contains { if case .persistEntry = $0 { true } else { false } }, "\(name) was stored")
        }
        #expect(b.counters.entriesRefused == attacks.count)
        // The honest entry still goes through.
        let honest = b.receive(.entry(conv: conv, entry: entry(), manifest: nil), from: a.identity, now: now, standing: pair.b.standing)
        #expect(honest.contains { if case .persistEntry(_, 3, _, nil, _) = $0 { true } else { false } })
    }

    @Test func anOpenDatedInTheFutureOrWithoutTheInitiatorsManifestIsRefused() throws {
        var pair = ConversationPair()
        let conv = try pair.open(from: 0)
        pair.run(maxSteps: 1)
        guard case .send(_, .open(let header, let entry, _))? = pair.a.actions.first(where: { if case .send(_, .open) = $0 { true } else { false } })
        else { Issue.record("no open"); return }
        var fresh = ConversationEngine(key: pair.b.key, network: .main, policy: IdentityModel.Policy(), manifest: pair.b.speaker.manifest)
        let other = Speaker(key: pair.b.key, model: [UInt8](repeating: 4, count: 32))
        _ = fresh.receive(.open(header: header, entry: entry, manifest: other.manifest), from: pair.a.identity, now: pair.clock, standing: pair.b.standing)
        _ = fresh.receive(.open(header: header, entry: entry, manifest: pair.a.speaker.manifest), from: pair.a.identity,
                          now: pair.clock - 3_600_000, standing: pair.b.standing)
        #expect(fresh.counters.opensRefused == 2 && fresh.log(conv) == nil)
    }
}
