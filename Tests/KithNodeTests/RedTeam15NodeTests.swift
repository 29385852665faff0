import Foundation
import KithCrypto
import KithModel
import KithNode
import KithProtocol
import KithStore
import KithTestSupport
import Testing

/// Red-team regression tests for reach-by-key between running nodes (issue 15): `where-is`,
/// `is-at` and `dht-key` from people who should not get (or give) answers.
@Suite("Red team 15: where-is, is-at and dht-key between running nodes", .serialized)
struct RedTeam15NodeTests {
    /// Ada is friends with Ben and with Cleo; Ben and Cleo are not friends, and Ben shares his
    /// addresses with friends only (the default). Cleo connecting to Ben by key alone asks Ada
    /// where Ben is: Ada must not tell. A stranger's where-is gets no answer and its dht-key is
    /// not kept.
    @Test func whereIsDoesNotLeakAFriendsAddressToSomeoneWhoIsNotTheirFriend() async throws {
        let ada = try await RunningNode.start("ada")
        let ben = try await RunningNode.start("ben", connect: "auto")
        let cleo = try await RunningNode.start("cleo", connect: "auto")
        #expect(await ada.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port).outcome == .accepted)
        #expect(await ada.runtime.connect(to: cleo.identity, host: "127.0.0.1", port: cleo.port).outcome == .accepted)
        // Ada holds Ben's addresses (so a leak would be possible).
        let knows = await eventually {
            ((try? ada.home.open(passphrase: nil).store.advertisedAddresses(of: ben.identity))?.endpoints.isEmpty ?? true) == false
        }
        #expect(knows, "Ada never learned Ben's addresses; the rest proves nothing")

        let outcome = await cleo.runtime.connect(to: ben.identity, host: nil, port: nil)
        #expect(outcome.outcome == .failed, "Cleo found Ben through Ada: \(outcome.message)")
        #expect(await cleo.runtime.relationship(with: ben.identity) != .friends)

        // A stranger asks Ada where Ben is, and hands Ada a record key.
        let mallory = try HostilePeer.make()
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: ada.port, expected: ada.identity)
        var events = mallory.transport.events.makeAsyncIterator()
        try await conn.send(.whereIs(peer: ben.identity))
        try await conn.send(.dhtKey(key: Random.bytes(64)))
        #expect(await nextMessage(&events, "is-at", within: 2) == nil, "a stranger got an is-at answer")
        #expect(((try? ada.home.open(passphrase: nil).store.dhtRecordKey(of: mallory.identity)) ?? nil) == nil,
                "a stranger's dht-key was kept")
        await mallory.shutdown()
        for node in [ada, ben, cleo] { await node.runtime.stop() }
    }
}
