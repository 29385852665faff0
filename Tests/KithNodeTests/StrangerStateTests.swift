import Foundation
import KithCrypto
import KithModel
import KithNet
import KithNode
import KithProtocol
import KithStore
import KithTestSupport
import Testing

/// Issue 14 item 2: what strangers leave behind is small, bounded and expiring, against a
/// running node.
@Suite("Stranger state, against a running node", .serialized)
struct StrangerStateTests {
    @Test func refusedOpensAreNotKeptNorCountedAndTheDailyLimitStaysForFriends() async throws {
        let ada = try await ProposalTests.start("ada", edits: [("converse: fof", "converse: friends"), ("daily_conversations: 20", "daily_conversations: 3"),
                                                                ("connect: ask", "connect: auto")])
        // 25 strangers open conversations; each is declined, nothing is stored.
        var declines = 0
        for _ in 0..<25 {
            let mallory = try HostilePeer.make()
            let inbox = Inbox(mallory.transport)
            let conn = try await mallory.transport.dial(host: "127.0.0.1", port: ada.port, expected: ada.identity)
            _ = try await mallory.openConversation(with: ada.identity, over: conn, topic: "spam", maxTurns: 4, text: "hi")
            if await eventually(10, { await inbox.types(from: ada.identity).contains("conv-seal") }) { declines += 1 }  // generous: CI runs other suites beside it
            let sent = await inbox.received(from: ada.identity)
            #expect(!sent.contains { if case .conversation(.ack) = $0 { true } else { false } }, "nothing acknowledged: nothing stored")
            await mallory.shutdown()
        }
        #expect(declines == 25)
        let store = try ada.home.open(passphrase: nil).store
        #expect(try store.conversations().isEmpty, "refused opens are not kept")
        #expect(await ada.runtime.status().conversations["refused"] == 25)
        // A friend still talks: the daily limit (3) was not used up by strangers.
        let ben = try await ProposalTests.start("ben", edits: [("connect: ask", "connect: auto")])
        #expect(await ben.runtime.connect(to: ada.identity, host: "127.0.0.1", port: ada.port).outcome == .accepted)
        var kinds: [String] = []
        for await event in await ben.runtime.talk(to: ada.identity, host: nil, port: nil, topic: "books", turns: 4) where event.event == .entry {
            kinds.append(event.kind ?? "")
        }
        #expect(kinds.count >= 2 && !kinds.contains("decline"), "\(kinds)")
        await ben.runtime.stop()
        await ada.runtime.stop()
    }

    @Test func pendingStrangerRequestsAreCappedPerNetworkAndNeverRedialled() async throws {
        let ada = try await RunningNode.start("ada")  // policy.connect: ask
        let dialledBefore = await ada.runtime.status().tcp["dialled"] ?? 0
        // 20 strangers from one /24 (127.0.0.0/24): 16 wait, the rest are ignored.
        for i in 0..<20 {
            let mallory = try HostilePeer.make()
            let conn = try await mallory.transport.dial(host: "127.0.0.1", port: ada.port, expected: ada.identity, from: "127.0.0.\(2 + i % 200)")
            let record = ConnectionRecord(signer: mallory.identity, other: ada.identity, ts: WallClock.system.now()).signed(with: mallory.key)
            try await conn.send(.friend(.request(record: record, manifest: mallory.speaker.manifest)))
            _ = await eventually(2) { await ada.runtime.status().pendingRequests + (await ada.runtime.status().requests["refused_at_capacity"] ?? 0) > i }
            await mallory.shutdown()
        }
        var status = await ada.runtime.status()
        #expect(status.pendingRequests == StrangerStateTests.perNetwork, "\(status.pendingRequests)")
        #expect(status.requests["refused_at_capacity"] == 20 - StrangerStateTests.perNetwork)
        // Someone from another network still gets through.
        let honest = try HostilePeer.make()
        let conn = try await honest.transport.dial(host: "127.0.0.1", port: ada.port, expected: ada.identity, from: "127.0.9.9")
        let record = ConnectionRecord(signer: honest.identity, other: ada.identity, ts: WallClock.system.now()).signed(with: honest.key)
        try await conn.send(.friend(.request(record: record, manifest: honest.speaker.manifest)))
        #expect(await eventually { await ada.runtime.status().pendingRequests == StrangerStateTests.perNetwork + 1 })
        #expect(await ada.runtime.requests().contains { $0.id == honest.identity.did && $0.name == "Mallory" })
        await honest.shutdown()
        // Nobody who only asked is ever dialled back (they chose no address this node would dial).
        try await Task.sleep(for: .seconds(2))
        status = await ada.runtime.status()
        #expect(status.tcp["dialled"] == dialledBefore, "\(status.tcp)")
        await ada.runtime.stop()
    }

    static let perNetwork = 16
}
