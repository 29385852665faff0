import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithNet
import KithNode
import KithProtocol
import KithStore
import KithTestSupport
import Testing

/// Everything a hostile peer's transport receives, by sender.
actor Inbox {
    private(set) var messages: [(from: Identity, message: PeerMessage)] = []
    init(_ transport: Transport) {
        let events = transport.events
        Task { await self.listen(events) }
    }

    private func listen(_ events: AsyncStream<TransportEvent>) async {
        for await event in events {
            if case .message(let conn, let message) = event { messages.append((conn.peer, message)) }
        }
    }

    /// The types received from `peer`.
    func types(from peer: Identity) -> [String] { messages.filter { $0.from == peer }.map(\.message.type) }

    /// The messages received from `peer`.
    func received(from peer: Identity) -> [PeerMessage] { messages.filter { $0.from == peer }.map(\.message) }
}

/// Who learns what (issue 13 item 4, `Protocol/disclosure.md`): a stranger, a friend of a friend
/// and a friend, each played by a hostile peer against running nodes.
@Suite("Who learns what, against running nodes", .serialized)
struct DisclosureNodeTests {
    @Test func aStrangerLearnsNothingAFriendOfAFriendTheProfileAndAFriendTheAddresses() async throws {
        let ben = try await ProposalTests.start("ben", edits: [("connect: ask", "connect: auto")])
        let ada = try await ProposalTests.start("ada", edits: [("connect: ask", "connect: auto")])
        let mallory = try HostilePeer.make()
        let inbox = Inbox(mallory.transport)

        // A stranger: asks for Ada's profile, her manifest by gossip, an introduction. Nothing comes back.
        let toAda = try await mallory.transport.dial(host: "127.0.0.1", port: ada.port, expected: ada.identity)
        try await toAda.send(.manifestRequest)
        try await toAda.send(.gossip(.want(manifests: [ada.identity], records: [])))
        try await toAda.send(.introduction(.request(peer: ben.identity, endpoints: [])))
        try await Task.sleep(for: .seconds(1))
        let strangerHeard = await inbox.types(from: ada.identity)
        #expect(strangerHeard.isEmpty, "\(strangerHeard)")

        // Mallory befriends Ben (whose policy is auto): Ben's node now tells it its profile and
        // where it listens.
        let toBen = try await mallory.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        let record = ConnectionRecord(signer: mallory.identity, other: ben.identity, ts: WallClock.system.now()).signed(with: mallory.key)
        try await toBen.send(.friend(.request(record: record, manifest: mallory.speaker.manifest)))
        #expect(await eventually { await inbox.types(from: ben.identity).contains("addresses") })
        let fromBen = await inbox.received(from: ben.identity)
        #expect(fromBen.contains { if case .addresses(let endpoints, .friends) = $0 { endpoints == ["tcp://127.0.0.1:\(ben.port)"] } else { false } })
        #expect(fromBen.contains { if case .manifest = $0 { true } else { false } })
        try await toBen.send(.manifest(mallory.speaker.manifest))

        // Ada befriends Ben too: Mallory becomes a friend of a friend of Ada's.
        #expect(await ada.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port).outcome == .accepted)
        let adaStore = try ada.home.open(passphrase: nil).store
        #expect(await eventually(10) { (try? People.list(store: adaStore, me: ada.identity))?.contains { $0.id == mallory.identity.did && $0.hops == 2 } == true })
        // Ben received Ada's addresses as a friend.
        let benStore = try ben.home.open(passphrase: nil).store
        #expect(await eventually { (try? benStore.advertisedAddresses(of: ada.identity))?.endpoints == ["tcp://127.0.0.1:\(ada.port)"] })

        // A friend of a friend asks again: the manifest, with no address in it, and no addresses.
        try await toAda.send(.manifestRequest)
        #expect(await eventually { await inbox.types(from: ada.identity).contains("manifest") })
        try await Task.sleep(for: .milliseconds(300))
        let fromAda = await inbox.received(from: ada.identity)
        for case .manifest(let object) in fromAda {
            #expect(try Manifest.verify(object).endpoints.isEmpty)
        }
        #expect(!fromAda.contains { if case .addresses = $0 { true } else { false } })

        await mallory.shutdown()
        await ada.runtime.stop()
        await ben.runtime.stop()
    }

    @Test func anIntroductionPassesAddressesOnlyWhenBothPoliciesAllowTheMeeting() async throws {
        let ben = try await ProposalTests.start("ben", edits: [("connect: ask", "connect: auto")])
        let ada = try await ProposalTests.start("ada", edits: [("connect: ask", "connect: auto")])
        let cleo = try await ProposalTests.start("cleo", edits: [("connect: ask", "connect: auto"), ("converse: fof", "converse: friends")])
        #expect(await ada.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port).outcome == .accepted)
        #expect(await cleo.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port).outcome == .accepted)
        let adaStore = try ada.home.open(passphrase: nil).store
        #expect(await eventually(10) { (try? People.list(store: adaStore, me: ada.identity))?.contains { $0.id == cleo.identity.did && $0.hops == 2 } == true })

        // Cleo talks with friends only: Ben asks, Cleo's node declines, and no one learns an address.
        var failure: String?
        for await event in await ada.runtime.talk(to: cleo.identity, host: nil, port: nil, topic: "poetry", turns: 4) where event.event == .failed {
            failure = event.message
        }
        #expect(failure?.contains("cannot reach") == true, "\(failure ?? "no failure")")
        #expect(await ada.runtime.introducer(of: cleo.identity) == nil)
        #expect(await cleo.runtime.introducer(of: ada.identity) == nil)
        #expect(try adaStore.endpoints(of: cleo.identity).isEmpty)

        // Cleo lets friends of friends talk now: the same request brings both addresses across.
        let yaml = try String(contentsOfFile: cleo.home.modelFile, encoding: .utf8).replacingOccurrences(of: "converse: friends", with: "converse: fof")
        try yaml.write(toFile: cleo.home.modelFile, atomically: true, encoding: .utf8)
        _ = try await cleo.runtime.reload()
        var kinds: [String] = []
        for await event in await ada.runtime.talk(to: cleo.identity, host: nil, port: nil, topic: "poetry", turns: 4) where event.event == .entry {
            kinds.append(event.kind ?? "")
        }
        #expect(kinds.count >= 2 && kinds.last == "close", "\(kinds)")
        #expect(await ada.runtime.introducer(of: cleo.identity) == ben.identity)
        #expect(await cleo.runtime.introducer(of: ada.identity) == ben.identity)
        #expect(try adaStore.endpoints(of: cleo.identity) == ["tcp://127.0.0.1:\(cleo.port)"], "kept once a handshake proved it")

        // A stranger cannot use Ben as an introducer: no answer at all.
        let mallory = try HostilePeer.make()
        let inbox = Inbox(mallory.transport)
        let toBen = try await mallory.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        try await toBen.send(.introduction(.request(peer: cleo.identity, endpoints: ["tcp://127.0.0.1:9"])))
        try await Task.sleep(for: .seconds(1))
        #expect(await inbox.types(from: ben.identity).isEmpty)
        #expect(await cleo.runtime.introducer(of: mallory.identity) == nil)

        await mallory.shutdown()
        for node in [ada, ben, cleo] { await node.runtime.stop() }
    }

    @Test func editingAPrivateMemoryPublishesNothingNew() async throws {
        let ada = try await RunningNode.start("ada")
        let before = await ada.runtime.status().manifestSeq
        let yaml = try String(contentsOfFile: ada.home.modelFile, encoding: .utf8)
        try yaml.replacingOccurrences(of: "memories:\n", with: "memories:\n  - text: A brand new secret.\n    visibility: private\n")
            .write(toFile: ada.home.modelFile, atomically: true, encoding: .utf8)
        let privateEdit = try await ada.runtime.reload()
        #expect(!privateEdit.changed && privateEdit.seq == before)
        try yaml.replacingOccurrences(of: "memories:\n", with: "memories:\n  - text: A story for friends.\n    visibility: friends\n")
            .write(toFile: ada.home.modelFile, atomically: true, encoding: .utf8)
        let friendsEdit = try await ada.runtime.reload()
        #expect(friendsEdit.changed && friendsEdit.seq > before)
        await ada.runtime.stop()
    }
}
