import KithCBOR
import KithModel
import KithProtocol
import KithTestSupport
import Testing

/// Three introduction engines — Ada, Ben (friends with both) and Cleo — pumped by hand through
/// the wire encoding.
struct IntroductionTriangle {
    static let now: UInt64 = 1_800_000_000_000
    var engines: [IntroductionEngine]
    let ids: [Identity]
    /// Who is friends with whom.
    var friends: Set<[Identity]>
    /// Whether each person would meet a friend of a friend introduced to them.
    var meets = [true, true, true]
    var sharesWithFriendsOfFriends = [false, false, false]
    let endpoints = ["tcp://10.0.0.1:7400", "tcp://10.0.0.2:7400", "tcp://10.0.0.3:7400"]
    var learned: [[(peer: Identity, ok: Bool, endpoints: [String])]] = [[], [], []]
    var sent: [(from: Int, to: Int, IntroductionMessage)] = []

    init() {
        ids = (0..<3).map { _ in Speaker().identity }
        engines = ids.map { IntroductionEngine(me: $0) }
        friends = [[ids[0], ids[1]], [ids[1], ids[0]], [ids[1], ids[2]], [ids[2], ids[1]]]
    }

    func facts(_ i: Int) -> IntroductionEngine.Facts {
        IntroductionEngine.Facts(isFriend: { friends.contains([ids[i], $0]) },
                                 sharedAddresses: { peer in
                                     let j = ids.firstIndex(of: peer)!
                                     return sharesWithFriendsOfFriends[j] ? [endpoints[j]] : nil
                                 },
                                 wouldMeet: { _ in meets[i] }, myEndpoints: [endpoints[i]])
    }

    mutating func perform(_ actions: [IntroductionEngine.Action], side i: Int, at now: UInt64 = now) {
        var queue = actions.map { (i, $0) }
        var steps = 0
        while !queue.isEmpty && steps < 100 {
            steps += 1
            let (from, action) = queue.removeFirst()
            switch action {
            case .send(let to, let message):
                let j = ids.firstIndex(of: to)!
                sent.append((from, j, message))
                guard case .introduction(let decoded) = try! PeerMessage(CBOR.decode(PeerMessage.introduction(message).encoded())) else {
                    preconditionFailure("an introduction message did not decode as one")
                }
                queue += engines[j].receive(decoded, from: ids[from], facts: facts(j), now: now).map { (j, $0) }
            case .learned(let peer, let ok, let endpoints, _):
                learned[from].append((peer, ok, endpoints))
            case .note:
                break
            }
        }
    }

    mutating func adaAsksBen() {
        perform(engines[0].request(ids[2], via: ids[1], endpoints: [endpoints[0]], now: Self.now), side: 0)
    }
}

@Suite("Introductions, three engines and no sockets")
struct IntroductionEngineTests {
    @Test func bothAgreeingEachLearnsTheOthersAddressThroughTheMutualFriend() {
        var t = IntroductionTriangle()
        t.adaAsksBen()
        #expect(t.learned[0].map(\.endpoints) == [[t.endpoints[2]]] && t.learned[0].first?.ok == true)
        #expect(t.learned[2].map(\.endpoints) == [[t.endpoints[0]]], "Cleo learns Ada's address only after she agreed")
        #expect(t.learned[1].isEmpty)
    }

    @Test func aTargetThatDeclinesLearnsNothingAndGivesNothing() {
        var t = IntroductionTriangle()
        t.meets[2] = false
        t.adaAsksBen()
        #expect(t.learned[0].count == 1 && t.learned[0][0].ok == false && t.learned[0][0].endpoints.isEmpty)
        #expect(t.learned[2].isEmpty, "Ada's address never reached Cleo")
        // Nothing Ben sent Cleo carried Ada's address.
        #expect(!t.sent.contains { $0.to == 2 && { if case .addresses = $0 { true } else { false } }($0.2) })
    }

    @Test func aTargetSharingWithFriendsOfFriendsIsAnsweredWithoutBeingAsked() {
        var t = IntroductionTriangle()
        t.sharesWithFriendsOfFriends[2] = true
        t.adaAsksBen()
        #expect(t.learned[0].first?.endpoints == [t.endpoints[2]])
        #expect(!t.sent.contains { $0.to == 2 }, "Cleo's node was not asked, and did not learn Ada's address")
    }

    @Test func strangersForgedRepliesAndRequestsAboutNonFriendsGetNothing() {
        var t = IntroductionTriangle()
        let mallory = Speaker().identity
        // A stranger asks Ben: silence.
        let fromStranger = t.engines[1].receive(.request(peer: t.ids[2], endpoints: []), from: mallory, facts: t.facts(1), now: IntroductionTriangle.now)
        #expect(!fromStranger.contains { if case .send = $0 { true } else { false } })
        // Ada asks Ben about someone who is not Ben's friend: a plain no.
        let unknown = t.engines[1].receive(.request(peer: mallory, endpoints: []), from: t.ids[0], facts: t.facts(1), now: IntroductionTriangle.now)
        #expect(unknown == [.send(to: t.ids[0], .addresses(peer: mallory, ok: false, endpoints: []))])
        // Cleo answers an introduction Ben never asked for: ignored.
        let unasked = t.engines[1].receive(.reply(peer: t.ids[0], ok: true, endpoints: [t.endpoints[2]]), from: t.ids[2], facts: t.facts(1),
                                           now: IntroductionTriangle.now)
        #expect(!unasked.contains { if case .send = $0 { true } else { false } })
        // Addresses from a non-friend are not learned, nor a friend's addresses nobody asked for.
        let forged = t.engines[0].receive(.addresses(peer: t.ids[2], ok: true, endpoints: ["tcp://6.6.6.6:1"]), from: mallory, facts: t.facts(0),
                                          now: IntroductionTriangle.now)
        #expect(!forged.contains { if case .learned = $0 { true } else { false } })
        let planted = t.engines[0].receive(.addresses(peer: t.ids[2], ok: true, endpoints: ["tcp://6.6.6.6:1"]), from: t.ids[1], facts: t.facts(0),
                                           now: IntroductionTriangle.now)
        #expect(!planted.contains { if case .learned = $0 { true } else { false } }, "Ada never asked Ben about Cleo")
    }

    @Test func aTargetThatNeverAnswersEndsInANoAndRequestsAreRateLimited() {
        var t = IntroductionTriangle()
        // Ben passes the offer on, but Cleo's answer is lost.
        _ = t.engines[1].receive(.request(peer: t.ids[2], endpoints: []), from: t.ids[0], facts: t.facts(1), now: IntroductionTriangle.now)
        let later = t.engines[1].tick(now: IntroductionTriangle.now + IntroductionEngine.answerTimeout)
        #expect(later == [.send(to: t.ids[0], .addresses(peer: t.ids[2], ok: false, endpoints: []))])
        // A burst of requests from one friend is cut off.
        var offers = 0
        for i in 0..<50 {
            let actions = t.engines[1].receive(.request(peer: t.ids[2], endpoints: []), from: t.ids[0], facts: t.facts(1),
                                               now: IntroductionTriangle.now + 100_000 + UInt64(i))
            offers += actions.filter { if case .send(_, .offer) = $0 { true } else { false } }.count
        }
        #expect(offers <= 8)
    }
}
