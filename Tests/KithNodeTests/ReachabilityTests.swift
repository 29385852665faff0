@testable import KithNode
import KithModel
import KithTestSupport
import Testing

/// Reachability from friends' observations (`Protocol/transport.md`, observed addresses): one
/// mapping seen by two observers is a NAT a hole punch gets through; a mapping per observer is a
/// symmetric NAT; the node's own address is public. Only the listening port counts.
@Suite("Reachability from observed addresses")
struct ReachabilityTests {
    static func seen(_ observer: String, _ host: String, _ port: Int, local: String = "10.0.0.2", localPort: Int = 7400,
                     at: UInt64 = 1) -> AddressObservations.Observation {
        .init(observerHost: observer, seenHost: host, seenPort: port, localHost: local, localPort: localPort, at: at)
    }

    @Test func twoObserversTellTheMappingApart() {
        let f1 = NodeKeys.generate().identity, f2 = NodeKeys.generate().identity, f3 = NodeKeys.generate().identity
        var o = AddressObservations()
        #expect(o.classify(listenPort: 7400) == .init(reachability: .unknown))
        o.record(Self.seen("198.18.0.10", "198.18.0.21", 7400), by: f1)
        #expect(o.classify(listenPort: 7400) == .init(reachability: .unknown, candidate: "198.18.0.21:7400"),
                "one observer cannot tell the NAT type, and what it says is not published")
        // The same friend twice, or two friends on one address, still count once.
        o.record(Self.seen("198.18.0.10", "198.18.0.21", 7400, at: 2), by: f3)
        #expect(o.classify(listenPort: 7400).reachability == .unknown)
        o.record(Self.seen("198.18.0.11", "198.18.0.21", 7400), by: f2)
        #expect(o.classify(listenPort: 7400) == .init(reachability: .behindNAT, endpoint: "198.18.0.21:7400", candidate: "198.18.0.21:7400"))
        // A port per observer: symmetric, nothing to punch to.
        o.record(Self.seen("198.18.0.11", "198.18.0.21", 41_234, at: 3), by: f2)
        #expect(o.classify(listenPort: 7400) == .init(reachability: .symmetricNAT))
    }

    @Test func theNodesOwnAddressIsPublicAndEphemeralPortsDoNotCount() {
        let f1 = NodeKeys.generate().identity, f2 = NodeKeys.generate().identity
        var o = AddressObservations()
        o.record(Self.seen("198.18.0.10", "198.18.0.11", 7400, local: "198.18.0.11"), by: f1)
        #expect(o.classify(listenPort: 7400) == .init(reachability: .public, endpoint: "198.18.0.11:7400", candidate: "198.18.0.11:7400"))
        // A connection from an ephemeral port says nothing about the listening port's mapping.
        var p = AddressObservations()
        p.record(Self.seen("198.18.0.10", "198.18.0.21", 50_001, localPort: 50_001), by: f1)
        p.record(Self.seen("198.18.0.11", "198.18.0.21", 50_002, localPort: 50_002), by: f2)
        #expect(p.classify(listenPort: 7400) == .init(reachability: .unknown))
    }

    /// A majority decides: one friend (lying, or on the node's own LAN) outvotes nobody.
    @Test func oneObserverCannotOutvoteTheOthers() {
        let f = (0..<3).map { _ in NodeKeys.generate().identity }
        var o = AddressObservations()
        o.record(Self.seen("198.18.0.10", "198.18.0.21", 7400), by: f[0])
        o.record(Self.seen("198.18.0.11", "198.18.0.21", 7400), by: f[1])
        o.record(Self.seen("10.0.0.9", "10.0.0.2", 7400), by: f[2])
        #expect(o.classify(listenPort: 7400).reachability == .behindNAT)
        o.record(Self.seen("10.0.0.9", "198.18.0.21", 9_999), by: f[2])
        #expect(o.classify(listenPort: 7400).reachability == .behindNAT, "one dissenting port does not make it symmetric")
    }

    @Test func observationsAreBounded() {
        var o = AddressObservations()
        for i in 0..<100 { o.record(Self.seen("10.9.\(i).1", "198.18.0.21", 7400, at: UInt64(i)), by: NodeKeys.generate().identity) }
        #expect(o.byObserver.count == AddressObservations.limit)
        #expect(o.classify(listenPort: 7400).reachability == .behindNAT)
    }
}
