@testable import KithNet
import Testing

/// The admission machine alone: budgets per network, random eviction, proven connections,
/// room kept for friends.
@Suite("Admission of inbound connections")
struct AdmissionTests {
    static let limits = Admission.Limits(maxInbound: 100, maxInboundPerNetwork: 20, maxPending: 16, maxPendingPerNetwork: 4,
                                         reservedForFriends: 10, strangerIdleGrace: 5_000)

    /// A seeded generator, so a run can be repeated.
    struct Dice {
        var state: UInt64
        mutating func callAsFunction(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
    }

    @Test func aFloodOfUnprovenConnectionsNeverLocksOutAndStaysWithinEveryBudget() {
        var a = Admission(limits: Self.limits)
        var dice = Dice(state: 1)
        var refused = 0, evicted = 0
        for id in 1...10_000 as ClosedRange<UInt64> {
            switch a.arrive(id, network: "10.0.\(id % 50).0/24", now: id, random: { dice($0) }) {
            case .success(let victims): evicted += victims.count
            case .failure: refused += 1
            }
            #expect(a.count <= Self.limits.maxInbound && a.pending <= Self.limits.maxPending)
        }
        #expect(refused == 0, "an unproven newcomer always finds an unproven connection to replace")
        #expect(evicted == 10_000 - Self.limits.maxPending)
    }

    @Test func randomEvictionCannotBeAimedAtTheOldestConnection() {
        // The victim of a flood is random: an honest connection that arrived first survives the
        // next arrivals with the odds of any other, not with certainty of being first to go.
        var survived = 0
        for seed in 1...200 as ClosedRange<UInt64> {
            var a = Admission(limits: Self.limits)
            var dice = Dice(state: seed)
            _ = a.arrive(1, network: "192.0.2.0/24", now: 0, random: { dice($0) })
            for id in 2...(2 + UInt64(Self.limits.maxPending)) {
                _ = a.arrive(id, network: "198.51.\(id).0/24", now: id, random: { dice($0) })
            }
            if a.entries[1] != nil { survived += 1 }
        }
        // One eviction among 16: the first connection survives about 15 times in 16.
        #expect(survived > 150, "\(survived) of 200")
    }

    @Test func provenConnectionsAreNotDisplacedByUnprovenOnes() {
        var a = Admission(limits: Self.limits)
        var dice = Dice(state: 7)
        for id in 1...4 as ClosedRange<UInt64> {
            _ = a.arrive(id, network: "203.0.113.0/24", now: 0, random: { dice($0) })
            a.proven(id)
        }
        // The network's pending share is held by proven connections: an unproven one is refused.
        #expect(a.arrive(5, network: "203.0.113.0/24", now: 1, random: { dice($0) }) == .failure(.network))
        #expect((1...4).allSatisfy { a.entries[$0] != nil })
        // Elsewhere, under load, a newcomer must prove itself; the network's own stays full.
        #expect(a.underLoad("203.0.113.0/24"))
    }

    @Test func strangersShareWhatFriendsLeaveAndIdleStrangersGoFirst() {
        var a = Admission(limits: Admission.Limits(maxInbound: 20, maxInboundPerNetwork: 20, maxPending: 20, maxPendingPerNetwork: 20,
                                                   reservedForFriends: 5, strangerIdleGrace: 5_000))
        var dice = Dice(state: 3)
        // 15 strangers establish (the most they may hold).
        for id in 1...15 as ClosedRange<UInt64> {
            _ = a.arrive(id, network: "10.\(id).0.0/24", now: 0, random: { dice($0) })
            #expect(a.established(id, friend: false, now: 0, random: { dice($0) }).isEmpty)
        }
        // A 16th stranger while all are busy (active just now): it is turned away.
        _ = a.arrive(16, network: "10.16.0.0/24", now: 1_000, random: { dice($0) })
        for id in 1...15 as ClosedRange<UInt64> { a.active(id, now: 1_000) }
        #expect(a.established(16, friend: false, now: 1_000, random: { dice($0) }) == [16])
        // A friend always gets in, up to the total.
        _ = a.arrive(17, network: "10.17.0.0/24", now: 1_000, random: { dice($0) })
        #expect(a.established(17, friend: true, now: 1_000, random: { dice($0) }).isEmpty)
        // Later the strangers are idle: a newcomer stranger replaces one of them.
        _ = a.arrive(18, network: "10.18.0.0/24", now: 20_000, random: { dice($0) })
        let closed = a.established(18, friend: false, now: 20_000, random: { dice($0) })
        #expect(closed.count == 1 && closed[0] != 18 && closed[0] != 17)
        #expect(a.strangerSessions == 15)
    }
}
