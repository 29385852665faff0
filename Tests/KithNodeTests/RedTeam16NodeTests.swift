import Foundation
import KithCBOR
import KithModel
import KithNet
import KithNode
import KithProtocol
import KithTestSupport
import Testing

/// Red team 16: NAT traversal against running nodes on loopback. A stranger cannot steer what a
/// node believes about its own reachability, cannot make it join circuits or punch, and a peer
/// on a relayed session cannot turn the node into a dialling reflector.
@Suite("Red team 16: NAT traversal at the node", .serialized)
struct RedTeam16NodeTests {
    /// Two friends on loopback: each sees the other at its own address and listening port
    /// (dials leave from the listening port), so both are `public`, with no relays.
    @Test func friendsObservationsMakeLoopbackNodesPublic() async throws {
        let ada = try await RunningNode.start("ada", connect: "auto"), ben = try await RunningNode.start("ben", connect: "auto")
        _ = await ada.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port)
        #expect(await eventually { await ada.runtime.status().reach?.reachability == "public" })
        #expect(await eventually { await ben.runtime.status().reach?.reachability == "public" })
        let reach = await ada.runtime.status().reach
        #expect(reach?.observed == "127.0.0.1:\(ada.port)" && reach?.relays == [] && reach?.relaying == true)
        await ada.runtime.stop()
        await ben.runtime.stop()
    }

    @Test func aStrangerCannotSteerReachabilityNorMakeTheNodeJoinOrPunch() async throws {
        let node = try await RunningNode.start("ada")
        let mallory = try HostilePeer.make()
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: node.port, expected: node.identity)
        let dialledBefore = await node.runtime.status().tcp["dialled"] ?? 0
        for port in 1...20 { try await conn.send(.observed(address: "tcp://203.0.113.9:\(port)")) }
        try await conn.send(.relayOffer)
        try await conn.send(.relayCall(circuit: [UInt8](repeating: 1, count: 16)))
        try await conn.send(.punch(endpoints: ["tcp://127.0.0.1:9"]))
        try await conn.send(.punchSync)
        try await Task.sleep(for: .milliseconds(600))
        let status = await node.runtime.status()
        #expect(status.reach?.observers == 0 && status.reach?.reachability == "unknown", "a stranger's observations count for nothing")
        #expect(status.reach?.relays == [])
        #expect((status.tcp["dialled"] ?? 0) == dialledBefore, "the node dialled nobody for a stranger")
        #expect(conn.isActive, "the messages are ignored, the session stays")
        await mallory.shutdown()
        await node.runtime.stop()
    }

    /// A stranger reaches a node through its relay (a friend), then asks it to punch to a
    /// victim's addresses over and over: one round of dials per relayed session, bounded.
    @Test func aRelayedPeerCannotTurnTheNodeIntoAReflector() async throws {
        let relay = try await RunningNode.start("ben", connect: "auto"), node = try await RunningNode.start("ada", connect: "auto")
        _ = await node.runtime.connect(to: relay.identity, host: "127.0.0.1", port: relay.port)
        #expect(await eventually { await relay.runtime.relationship(with: node.identity) == .friends })
        #expect(await eventually { await node.runtime.status().reach?.observers == 1 })

        let victim = try HostilePeer.make(name: "Victim")
        let (_, victimPort) = try await victim.transport.listen(host: "127.0.0.1", port: 0)
        let mallory = try HostilePeer.make()
        // (The relay's transport learns its friends within a second.)
        var relayed: PeerConnection?
        for _ in 0..<30 where relayed == nil {
            relayed = try? await mallory.transport.dial(viaRelay: "127.0.0.1", port: relay.port, to: node.identity)
            if relayed == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let conn = try #require(relayed)
        #expect(conn.isRelayed)
        let endpoints = (0..<8).map { _ in "tcp://127.0.0.1:\(victimPort)" }
        for _ in 0..<10 {
            try await conn.send(.punch(endpoints: endpoints))
            try await conn.send(.punchSync)
        }
        // The dials run for up to 3 s plus one dial's timeout; under load, later. Wait until the
        // count has held still for 2 s (at most 20 s), then check it and that it stays put.
        var accepted = victim.transport.counters.accepted, stillSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, accepted == 0 || ContinuousClock.now - stillSince < .seconds(2) {
            try await Task.sleep(for: .milliseconds(200))
            let now = victim.transport.counters.accepted
            if now != accepted { accepted = now; stillSince = .now }
        }
        #expect(accepted >= 1 && accepted <= 6, "one punch answered per relayed session, each address dialled at most 6 times: \(accepted) dials")
        try await Task.sleep(for: .seconds(1))
        #expect(victim.transport.counters.accepted == accepted, "no further dials")
        #expect(await relay.runtime.status().tcp["circuits_joined"] == 1)
        await mallory.shutdown()
        await victim.shutdown()
        await node.runtime.stop()
        await relay.runtime.stop()
    }
}
