import Foundation
import Glibc
import KithModel
import KithNet
import KithProtocol
import KithTestSupport
import Testing

@Suite("Floods and replays against the transport", .serialized)
struct FloodTests {
    @Test func aThousandConnectionsAndHalfOpenHandshakesFromOneHostLeaveHonestPeersServed() async throws {
        #expect(FileDescriptorLimit.raise(toAtLeast: 4_096) >= 1_200, "the test needs ~1,100 descriptors")
        let ben = try await TestPeer.start(name: "Ben")
        let ada = try await TestPeer.start(name: "Ada")
        let limits = TransportLimits()
        // Message 1 of a real handshake: the half-open connections start one and stop.
        var starter = SecureSession(role: .initiator(expected: nil), credentials: ada.credentials)
        guard case .send(let message1)? = starter.start().first else { Issue.record("no message 1"); return }

        var flood: [Int32] = []
        for i in 0..<1_000 {
            guard let fd = try? RawClient.connect(port: ben.port, from: "127.0.0.2") else { continue }
            if i % 2 == 0 { RawClient.send(fd, message1) }
            flood.append(fd)
        }
        defer { for fd in flood { close(fd) } }
        #expect(flood.count >= 900, "the kernel accepted the flood's connections (\(flood.count))")

        // An honest peer on another address connects and talks during the flood.
        let session = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        try await session.send(.unknown(type: "note", fields: ["text": "during the flood"]))
        let text = try await ben.next { event -> String? in
            if case .message(_, .unknown("note", let body)) = event { return body["text"]?.textValue }
            return nil
        }
        #expect(text == "during the flood")

        // The flood's network (127.0.0.0/24, the honest peer's too) kept its share; the rest was
        // closed at random or refused, and the honest peer came back with a cookie.
        #expect(await eventually {
            let c = ben.transport.counters
            // Each flood connection was closed at random, refused, or (having started a
            // handshake without a cookie) answered with a retry and closed.
            return c.handshakesEvicted + c.refusedPerAddress + c.retries >= flood.count - limits.maxHandshakesPerNetwork
        }, "\(ben.transport.counters)")
        let counters = ben.transport.counters
        #expect(counters.established == 1)
        #expect(counters.retries >= 1 && counters.cookiesAccepted == 1, "\(counters)")
        #expect(await eventually { ben.transport.openConnections <= limits.maxHandshakesPerNetwork + 1 }, "\(ben.transport.openConnections)")
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func replayedHandshakeMessagesNeverEstablishASession() async throws {
        let ben = try await TestPeer.start(name: "Ben")
        let ada = try await TestPeer.start(name: "Ada")
        let original = try RawClient.connect(port: ben.port)
        defer { close(original) }
        let recorded = try #require(RawClient.establishRecording(original, credentials: ada.credentials, expected: ben.identity))
        #expect(recorded.count == 3, "message 1, message 3, hello")
        #expect(await eventually { ben.transport.counters.established == 1 })

        // Replay everything Ada sent, on a fresh connection: Ben answers message 1 with a new
        // ephemeral key, so the recorded message 3 cannot decrypt.
        let replay = try RawClient.connect(port: ben.port)
        defer { close(replay) }
        for chunk in recorded {
            RawClient.send(replay, chunk)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(RawClient.waitForClose(replay))
        // Replaying message 3 alone, with no handshake before it, fails too.
        let bare = try RawClient.connect(port: ben.port)
        defer { close(bare) }
        RawClient.send(bare, recorded[1])
        #expect(RawClient.waitForClose(bare))

        let counters = ben.transport.counters
        #expect(counters.established == 1, "no replayed session was established")
        #expect(counters.failures + counters.handshakeTimeouts >= 2, "every replay was refused: \(counters)")
        // The original session is untouched.
        #expect(ben.transport.connection(to: ada.identity)?.isActive == true)
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func aPeerSendingMessagesFasterThanTheLimitIsClosedAndHonestPeersAreNot() async throws {
        let ben = try await TestPeer.start(name: "Ben")
        let ada = try await TestPeer.start(name: "Ada")
        let flooder = try await TestPeer.start(name: "Flooder")
        let honest = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        let flood = try await flooder.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        let limits = TransportLimits()
        // Far more small messages than the burst allows, as fast as the session takes them.
        for i in 0..<(Int(limits.messageBurst) * 4) {
            do { try await flood.send(.unknown(type: "note", fields: ["n": .unsigned(UInt64(i))])) } catch { break }
        }
        #expect(await eventually { ben.transport.counters.closedForFlooding == 1 }, "\(ben.transport.counters)")
        #expect(await eventually { !flood.isActive })
        // The honest session is untouched and still delivers.
        try await honest.send(.unknown(type: "note", fields: ["text": "after the flood"]))
        let text = try await ben.next { event -> String? in
            if case .message(let conn, .unknown("note", let body)) = event, conn.peer == ada.identity { return body["text"]?.textValue }
            return nil
        }
        #expect(text == "after the flood")
        for peer in [ada, flooder, ben] { await peer.transport.shutdown() }
    }

    @Test func halfOpenHandshakesFromManyAddressesCannotLockAnHonestPeerOut() async throws {
        #expect(FileDescriptorLimit.raise(toAtLeast: 4_096) >= 1_200)
        let ben = try await TestPeer.start(name: "Ben")
        let ada = try await TestPeer.start(name: "Ada")
        let limits = TransportLimits()
        // 100 networks, each holding its 8 allowed half-open handshakes: 800 in all, far more
        // than the node's 64 handshake slots.
        var flood: [Int32] = []
        defer { for fd in flood { close(fd) } }
        for network in 1...100 {
            for _ in 0..<limits.maxHandshakesPerNetwork {
                if let fd = try? RawClient.connect(port: ben.port, from: "127.1.\(network).1") { flood.append(fd) }
            }
        }
        #expect(flood.count >= 700)
        // The honest peer's handshake completes within the handshake timeout while the flood holds on.
        let session = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        try await session.send(.unknown(type: "note", fields: ["text": "past the half-open crowd"]))
        let text = try await ben.next { event -> String? in
            if case .message(_, .unknown("note", let body)) = event { return body["text"]?.textValue }
            return nil
        }
        #expect(text == "past the half-open crowd")
        #expect(await eventually { ben.transport.counters.handshakesEvicted >= flood.count - limits.maxHandshakes }, "\(ben.transport.counters)")
        #expect(ben.transport.counters.cookiesAccepted == 1, "the honest peer proved its address: \(ben.transport.counters)")
        #expect(await eventually { ben.transport.openConnections <= limits.maxHandshakes + 2 }, "\(ben.transport.openConnections)")
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }
}
