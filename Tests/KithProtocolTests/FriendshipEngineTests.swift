import KithCrypto
import KithModel
import KithProtocol
import KithTestSupport
import Testing

/// Two friendship engines and their stored records, wired by hand.
struct FriendshipPair {
    static let now: UInt64 = 1_800_000_000_000
    var speakers = [Speaker(name: "A"), Speaker(name: "B")]
    var keys: [Ed25519.KeyPair] { speakers.map(\.key) }
    var manifests: [SignedObject] { speakers.map(\.manifest) }
    var engines: [FriendshipEngine]
    /// Requesters' manifests each side kept.
    var manifestsKept: [[Identity]] = [[], []]
    /// Each side's standing records for the pair, by signer.
    var stored: [[Identity: (object: SignedObject, record: ConnectionRecord)]] = [[:], [:]]
    var answers: [[FriendReply]] = [[], []]
    var gossiping: [Bool] = [false, false]
    var introductions = [0, 0]
    var inFlight: [(to: Int, FriendMessage)] = []
    var ids: [Identity] { keys.map { Identity(publicKey: $0.publicKey) } }

    init(_ a: IdentityModel.ConnectPolicy, _ b: IdentityModel.ConnectPolicy) {
        engines = []
        engines = [FriendshipEngine(key: speakers[0].key, network: .main, policy: a, manifest: speakers[0].manifest),
                   FriendshipEngine(key: speakers[1].key, network: .main, policy: b, manifest: speakers[1].manifest)]
    }

    func pair(_ i: Int) -> FriendshipEngine.PairRecords {
        .init(mine: stored[i][ids[i]], theirs: stored[i][ids[1 - i]])
    }
    func relationship(_ i: Int) -> Relationship { pair(i).relationship }

    mutating func perform(_ actions: [FriendshipEngine.FriendshipAction], side i: Int) {
        for action in actions {
            switch action {
            case .store(let object, let record):
                if let held = stored[i][record.by], !record.supersedes(held.record) { continue }
                stored[i][record.by] = (object, record)
            case .send(let to, let message):
                precondition(to == ids[1 - i])
                inFlight.append((1 - i, message))
            case .answer(let from, let reply):
                precondition(from == ids[1 - i])
                answers[i].append(reply)
            case .startGossip:
                gossiping[i] = true
            case .storeManifest(_, let manifest):
                manifestsKept[i].append(manifest.id)
            case .forgetRequest(let from):
                stored[i][from] = nil
            case .holdIntroduction:
                introductions[i] += 1
            case .note:
                break
            }
        }
    }

    mutating func run() {
        var steps = 0
        while !inFlight.isEmpty && steps < 100 {
            steps += 1
            let (to, message) = inFlight.removeFirst()
            perform(engines[to].receive(message, from: ids[1 - to], pair: pair(to), now: Self.now + UInt64(steps)), side: to)
        }
    }

    mutating func request(from i: Int, at now: UInt64 = Self.now) {
        perform(engines[i].request(ids[1 - i], pair: pair(i), now: now), side: i)
        run()
    }
}

@Suite("Friendship engine, two engines and no sockets")
struct FriendshipEngineTests {
    @Test func autoAcceptsAtOnceAndBothSidesAreFriends() {
        var f = FriendshipPair(.ask, .auto)
        f.request(from: 0)
        #expect(f.relationship(0) == .friends && f.relationship(1) == .friends)
        #expect(f.answers[0] == [.accepted] && f.gossiping == [true, true])
    }

    @Test func askQueuesUntilThePersonAcceptsAndNeverDeclines() throws {
        var f = FriendshipPair(.ask, .ask)
        f.request(from: 0)
        #expect(f.answers[0] == [.pending] && f.relationship(1) == .pending && f.relationship(0) == .requested)
        let accept = try #require(f.engines[1].accept(f.ids[0], pair: f.pair(1), introduced: false, now: FriendshipPair.now))
        f.perform(accept, side: 1)
        f.run()
        #expect(f.relationship(0) == .friends && f.relationship(1) == .friends && f.answers[0] == [.pending, .accepted])

        var n = FriendshipPair(.ask, .never)
        n.request(from: 0)
        #expect(n.answers[0] == [.declined] && n.stored[1].isEmpty, "nothing of a refused request is stored")
    }

    @Test func aDeclinedRequestIsForgottenAndCannotBeAcceptedLater() {
        var f = FriendshipPair(.ask, .ask)
        f.request(from: 0)
        f.perform(f.engines[1].decline(f.ids[0], pair: f.pair(1))!, side: 1)
        f.run()
        #expect(f.relationship(1) == .none && f.answers[0].last == .declined)
        #expect(f.engines[1].accept(f.ids[0], pair: f.pair(1), introduced: false, now: FriendshipPair.now) == nil)
    }

    @Test func crossingRequestsMakeFriendsAndAnUnansweredRequestIsResentOnTheNextSession() {
        var f = FriendshipPair(.ask, .ask)
        f.perform(f.engines[0].request(f.ids[1], pair: f.pair(0), now: FriendshipPair.now), side: 0)
        f.inFlight = []  // lost
        #expect(f.engines[0].sessionOpened(with: f.ids[1], pair: f.pair(0), now: FriendshipPair.now).count == 1)
        f.request(from: 1)  // B asks too; A already asked, so A answers with acceptance
        #expect(f.relationship(0) == .friends && f.relationship(1) == .friends)
        #expect(f.engines[0].sessionOpened(with: f.ids[1], pair: f.pair(0), now: FriendshipPair.now).isEmpty, "nothing to resend between friends")
    }

    @Test func hostileRecordsAndUnaskedAcceptancesAreIgnored() {
        let f = FriendshipPair(.auto, .auto)
        let mallory = Ed25519.KeyPair.generate()
        let m = Identity(publicKey: mallory.publicKey)
        // Mallory's record for another pair, a record signed by someone else, a revocation as a request.
        let elsewhere = ConnectionRecord(signer: m, other: NodeKeys.generate().identity, ts: 5).signed(with: mallory)
        let byOther = ConnectionRecord(signer: f.ids[1], other: f.ids[0], ts: 5).signed(with: f.keys[1])
        let revocation = ConnectionRecord(signer: m, other: f.ids[0], ts: 5, kind: .revocation).signed(with: mallory)
        for object in [elsewhere, byOther, revocation] {
            let actions = f.engines[0].receive(.request(record: object, manifest: Speaker(key: mallory).manifest), from: m,
                                               pair: .init(mine: nil, theirs: nil), now: 1_800_000_000_000)
            #expect(!actions.contains { if case .store = $0 { true } else if case .send = $0 { true } else { false } })
        }
        // A valid request whose manifest is someone else's, or for another network, is ignored too.
        let good = ConnectionRecord(signer: m, other: f.ids[0], ts: 5).signed(with: mallory)
        for manifest in [f.manifests[1], Speaker(key: mallory, net: NetworkID(name: "other")).manifest] {
            let actions = f.engines[0].receive(.request(record: good, manifest: manifest), from: m, pair: .init(mine: nil, theirs: nil),
                                               now: 1_800_000_000_000)
            #expect(!actions.contains { if case .store = $0 { true } else if case .storeManifest = $0 { true } else { false } })
        }
        // An acceptance nobody asked for completes nothing.
        let unasked = ConnectionRecord(signer: m, other: f.ids[0], ts: 5).signed(with: mallory)
        let actions = f.engines[0].receive(.accept(record: unasked, manifest: Speaker(key: mallory).manifest), from: m, pair: .init(mine: nil, theirs: nil), now: 9)
        #expect(!actions.contains { if case .store = $0 { true } else if case .startGossip = $0 { true } else { false } })
    }

    @Test func unfriendingRevokesAndALaterRequestIsNew() {
        var f = FriendshipPair(.auto, .ask)
        f.request(from: 1)
        #expect(f.relationship(0) == .friends)
        f.perform(f.engines[0].unfriend(f.ids[1], pair: f.pair(0), now: FriendshipPair.now + 10)!, side: 0)
        #expect(f.relationship(0) == .none)
        #expect(f.stored[0][f.ids[0]]!.record.ts > FriendshipPair.now, "the revocation is newer than the connection it ends")
        #expect(f.engines[0].unfriend(f.ids[1], pair: .init(mine: nil, theirs: nil), now: 1) == nil)
        // The AIs agreeing later requests the friendship again only when the policy says auto.
        var auto = f.engines[0]
        auto.policy = .auto
        #expect(auto.proposalAccepted(with: f.ids[1], pair: f.pair(0), now: FriendshipPair.now + 20)
            .contains { if case .send(_, .request) = $0 { true } else { false } })
        var never = f.engines[0]
        never.policy = .never
        #expect(never.proposalAccepted(with: f.ids[1], pair: f.pair(0), now: FriendshipPair.now + 20).isEmpty == false)
        #expect(!never.proposalAccepted(with: f.ids[1], pair: f.pair(0), now: FriendshipPair.now + 20)
            .contains { if case .send = $0 { true } else if case .store = $0 { true } else { false } })
    }

    @Test func anAgreedProposalSignsNothingUnderAskAndCrossingProposalsMakeNoFriendship() {
        var f = FriendshipPair(.ask, .ask)
        // Both AIs agree (in one conversation, or two crossing ones): each node holds an introduction.
        f.perform(f.engines[0].proposalAccepted(with: f.ids[1], pair: f.pair(0), now: FriendshipPair.now), side: 0)
        f.perform(f.engines[1].proposalAccepted(with: f.ids[0], pair: f.pair(1), now: FriendshipPair.now), side: 1)
        f.run()
        #expect(f.introductions == [1, 1] && f.stored[0].isEmpty && f.stored[1].isEmpty && f.inFlight.isEmpty)
        // One person accepts: a request; the other person still decides.
        f.perform(f.engines[0].accept(f.ids[1], pair: f.pair(0), introduced: true, now: FriendshipPair.now)!, side: 0)
        f.run()
        #expect(f.relationship(0) == .requested && f.relationship(1) == .pending)
    }

    @Test func anOldOrDeclinedRequestIsNotConsent() {
        var f = FriendshipPair(.ask, .ask)
        f.request(from: 0)
        #expect(f.relationship(0) == .requested)
        // 31 days later B asks: A's stale request does not answer it.
        let later = FriendshipPair.now + FriendshipEngine.consentLifetime + 86_400_000
        let bRecord = ConnectionRecord(signer: f.ids[1], other: f.ids[0], ts: later).signed(with: f.keys[1])
        let actions = f.engines[0].receive(.request(record: bRecord, manifest: f.manifests[1]), from: f.ids[1], pair: f.pair(0), now: later)
        #expect(actions.contains { if case .send(_, .pending) = $0 { true } else { false } })
        #expect(!actions.contains { if case .send(_, .accept) = $0 { true } else { false } })
        // What is stored must not read as friends either: the stale request was withdrawn first.
        f.perform(actions, side: 0)
        f.inFlight = []
        #expect(f.relationship(0) == .pending, "\(f.relationship(0))")
        // A record dated far ahead of the clock is refused.
        let future = ConnectionRecord(signer: f.ids[1], other: f.ids[0], ts: later + 3_600_000).signed(with: f.keys[1])
        #expect(!f.engines[0].receive(.request(record: future, manifest: f.manifests[1]), from: f.ids[1], pair: f.pair(0), now: later)
            .contains { if case .store = $0 { true } else { false } })
        // A declined request is forgotten by its sender.
        var g = FriendshipPair(.ask, .ask)
        g.request(from: 0)
        g.perform(g.engines[1].decline(g.ids[0], pair: g.pair(1))!, side: 1)
        g.run()
        #expect(g.relationship(0) == .none && g.stored[0][g.ids[0]]?.record.kind == .revocation, "withdrawn, signed")
        // When B later asks, A's person decides again.
        g.request(from: 1, at: FriendshipPair.now + 60_000)
        #expect(g.relationship(0) == .pending && g.relationship(1) == .requested)
    }

    @Test func afterAnUnfriendNeitherOldRecordMakesANewFriendship() {
        var f = FriendshipPair(.ask, .ask)
        f.request(from: 0)
        f.perform(f.engines[1].accept(f.ids[0], pair: f.pair(1), introduced: false, now: FriendshipPair.now)!, side: 1)
        f.run()
        #expect(f.relationship(0) == .friends && f.relationship(1) == .friends)
        // A unfriends; B learns the revocation (by gossip) and withdraws its own record.
        f.perform(f.engines[0].unfriend(f.ids[1], pair: f.pair(0), now: FriendshipPair.now + 100)!, side: 0)
        let revocation = f.stored[0][f.ids[0]]!
        f.stored[1][f.ids[0]] = revocation
        f.perform(f.engines[1].peerRevoked(f.ids[0], pair: f.pair(1)), side: 1)
        #expect(f.relationship(0) == .none && f.relationship(1) == .none)
        // A asks again: it is a request, not a friendship, on both sides.
        f.perform(f.engines[0].request(f.ids[1], pair: f.pair(0), now: FriendshipPair.now + 200), side: 0)
        f.run()
        #expect(f.relationship(0) == .requested && f.relationship(1) == .pending, "\(f.relationship(0)) \(f.relationship(1))")
    }
}
