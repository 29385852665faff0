import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithNet
import KithProtocol
import KithTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// A node-shaped test fixture: credentials plus a listening transport on loopback.
struct TestPeer {
    let credentials: SessionCredentials
    let transport: Transport
    let port: Int

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    static func start(name: String, limits: TransportLimits = TransportLimits(), group: any EventLoopGroup = group) async throws -> TestPeer {
        let credentials = SessionCredentials(signing: .generate(), network: .main)
        var logger = Logger(label: "test.\(name)")
        logger.logLevel = ProcessInfo.processInfo.environment["KITH_TEST_LOG"] != nil ? .debug : .critical
        let transport = Transport(credentials: credentials, limits: limits, group: group, logger: logger)
        let (_, port) = try await transport.listen(host: "127.0.0.1", port: 0)
        return TestPeer(credentials: credentials, transport: transport, port: port)
    }

    var identity: Identity { credentials.identity }

    /// Waits (bounded) for the first event matching `match`.
    func next<T: Sendable>(within seconds: Double = 5, _ match: @escaping @Sendable (TransportEvent) -> T?) async throws -> T {
        let events = transport.events
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                for await event in events { if let value = match(event) { return value } }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds * Fixtures.timeScale))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw TransportError.timeout }
            return first
        }
    }
}

extension TransportError {
    static let timeout = TransportErrorTimeout()
}

struct TransportErrorTimeout: Error {}

@Suite("TCP transport", .serialized)
struct TransportTests {
    @Test func twoNodesConnectByPublicKeyAndExchangeMessages() async throws {
        let ada = try await TestPeer.start(name: "Ada"), ben = try await TestPeer.start(name: "Ben")
        let conn = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        #expect(conn.peer == ben.identity)
        let seenByBen = try await ben.next { event -> Identity? in
            if case .connected(let c) = event { return c.peer }
            return nil
        }
        #expect(seenByBen == ada.identity)
        try await conn.send(.unknown(type: "note", fields: ["text": "hello Ben"]))
        let text = try await ben.next { event -> String? in
            if case .message(_, .unknown("note", let body)) = event { return body["text"]?.textValue }
            return nil
        }
        #expect(text == "hello Ben")
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    /// A weak reference that tasks may share.
    final class Weak<T: AnyObject>: @unchecked Sendable {
        // Sendable: set once before it is shared; only read after.
        weak var value: T?
        init(_ value: T) { self.value = value }
    }

    /// Regression: a session's handler, its connection and its channel (with its receive
    /// buffer) referred to one another, so every session ever opened stayed in memory — 11 KB
    /// each, 87 MiB after 8,000 strangers' sessions.
    @Test func aClosedSessionIsFreed() async throws {
        let ada = try await TestPeer.start(name: "Ada"), ben = try await TestPeer.start(name: "Ben")
        var dialled: PeerConnection? = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        var accepted: PeerConnection? = try await ben.next { event -> PeerConnection? in
            if case .connected(let c) = event { return c }
            return nil
        }
        let weakDialled = Weak(dialled!), weakAccepted = Weak(accepted!)
        try await dialled!.send(.unknown(type: "note", fields: ["text": "bye"]))
        dialled!.close()
        // Both sides report the end (the events carry the connection; consumed here).
        _ = try await ben.next { event -> Bool? in if case .disconnected = event { true } else { nil } }
        _ = try await ada.next { event -> Bool? in if case .disconnected = event { true } else { nil } }
        dialled = nil
        accepted = nil
        #expect(await eventually { weakDialled.value == nil && weakAccepted.value == nil },
                "closed sessions still held: dialled \(weakDialled.value != nil), accepted \(weakAccepted.value != nil)")
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    /// A consumer that falls behind: with an event backlog set, sessions stop reading once that
    /// many events wait (the peer's sends wait in the sockets), and read on once it catches up —
    /// nothing lost, nothing reordered, memory bounded however fast the peer sends.
    @Test func aSlowConsumerPausesReadingInsteadOfQueueingWithoutBound() async throws {
        var limits = TransportLimits()
        limits.eventBacklog = 100
        let ada = try await TestPeer.start(name: "Ada"), ben = try await TestPeer.start(name: "Ben", limits: limits)
        let conn = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        let total = 2_000
        let sender = Task {
            for i in 0..<total {
                try await conn.send(.unknown(type: "n", fields: ["i": .unsigned(UInt64(i)), "pad": .bytes([UInt8](repeating: 7, count: 1_000))]))
            }
        }
        // Ben's consumer takes events but reports none handled until told to.
        let seen = NIOLockedValueBox<(count: Int, order: [UInt64], handling: Bool)>((0, [], false))
        let events = ben.transport.events, transport = ben.transport
        let consumer = Task {
            for await event in events {
                guard case .message(_, .unknown("n", let fields)) = event else {
                    transport.eventHandled()
                    continue
                }
                let handling = seen.withLockedValue { s in
                    s.count += 1
                    s.order.append(fields["i"]?.unsignedValue ?? .max)
                    return s.handling
                }
                if handling { transport.eventHandled() }
                if seen.withLockedValue({ $0.count }) == total { return }
            }
        }
        // Until the backlog is full (however loaded the machine), then a while longer: anything
        // delivered beyond the bound would show by then.
        _ = await eventually(10) { seen.withLockedValue { $0.count } >= 100 }
        try await Task.sleep(for: .seconds(1 * Fixtures.timeScale))
        let whileBehind = seen.withLockedValue { $0.count }
        // At most the backlog plus what one read of the socket held (reads grow to 256 KiB).
        #expect(whileBehind >= 100 && whileBehind <= 100 + 300, "\(whileBehind) events delivered to a consumer that handled none")
        // The consumer catches up: reading resumes and everything arrives, in order.
        let behind = seen.withLockedValue { s in
            s.handling = true
            return s.count
        }
        for _ in 0..<behind { transport.eventHandled() }
        #expect(await eventually(20) { seen.withLockedValue { $0.count } == total })
        #expect(seen.withLockedValue { $0.order } == (0..<UInt64(total)).map { $0 })
        try await sender.value
        consumer.cancel()
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func aWrongExpectedKeyIsRefused() async throws {
        let ada = try await TestPeer.start(name: "Ada"), ben = try await TestPeer.start(name: "Ben")
        let impostor = NodeKeys.generate().identity
        await #expect(throws: TransportError.self) {
            try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: impostor)
        }
        #expect(ada.transport.connectedPeers.isEmpty)
        #expect(ben.transport.connectedPeers.isEmpty)
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func simultaneousDialsLeaveOneSessionPerPair() async throws {
        let ada = try await TestPeer.start(name: "Ada"), ben = try await TestPeer.start(name: "Ben")
        async let a = ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        async let b = ben.transport.dial(host: "127.0.0.1", port: ada.port, expected: ada.identity)
        let (ca, cb) = try await (a, b)
        try await Task.sleep(for: .milliseconds(300))
        let sessionA = try #require(ada.transport.connection(to: ben.identity))
        let sessionB = try #require(ben.transport.connection(to: ada.identity))
        #expect(sessionA.isActive && sessionB.isActive)
        #expect(sessionA.weDialled != sessionB.weDialled, "both kept the same TCP connection")
        _ = (ca, cb)
        #expect(ada.transport.openConnections == 1)
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func hostileInputClosesOnlyItsOwnConnection() async throws {
        var limits = TransportLimits()
        limits.handshakeTimeout = .milliseconds(700)
        let ben = try await TestPeer.start(name: "Ben", limits: limits)
        let ada = try await TestPeer.start(name: "Ada")
        let honest = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)

        let garbage = try RawClient.connect(port: ben.port)
        RawClient.send(garbage, [0x00, 0x10] + [UInt8](repeating: 0x41, count: 16))
        let truncated = try RawClient.connect(port: ben.port)
        RawClient.send(truncated, [0x00, 0x40, 1, 2, 3])
        let junk = try RawClient.connect(port: ben.port)
        RawClient.send(junk, [0xff, 0xff] + (0..<65_535).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let drip = try RawClient.connect(port: ben.port)
        RawClient.send(drip, [0x00])
        let empty = try RawClient.connect(port: ben.port)
        RawClient.send(empty, [0x00, 0x00])

        for fd in [garbage, truncated, junk, drip, empty] {
            #expect(RawClient.waitForClose(fd))
            close(fd)
        }
        // The honest session still works both ways.
        try await honest.send(.unknown(type: "note", fields: ["text": "still here"]))
        let text = try await ben.next { event -> String? in
            if case .message(_, .unknown("note", let body)) = event { return body["text"]?.textValue }
            return nil
        }
        #expect(text == "still here")
        let counters = ben.transport.counters
        #expect(counters.failures >= 3)
        #expect(counters.handshakeTimeouts >= 2)
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func aValidHandshakeFollowedByGarbageIsClosed() async throws {
        let ben = try await TestPeer.start(name: "Ben")
        // A hand-driven initiator: complete the handshake with a real state machine, then send junk.
        let ada = try await TestPeer.start(name: "Ada")
        let fd = try RawClient.connect(port: ben.port)
        defer { close(fd) }
        #expect(RawClient.establish(fd, credentials: ada.credentials, expected: ben.identity))
        RawClient.send(fd, [0x00, 0x20] + [UInt8](repeating: 0x99, count: 32))
        #expect(RawClient.waitForClose(fd))
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }

    @Test func connectionAndHandshakeCapsAreEnforced() async throws {
        var limits = TransportLimits()
        limits.maxHandshakes = 3
        limits.handshakeTimeout = .seconds(3)
        let ben = try await TestPeer.start(name: "Ben", limits: limits)
        var fds: [Int32] = []
        for _ in 0..<6 {
            fds.append(try RawClient.connect(port: ben.port))
            try await Task.sleep(for: .milliseconds(50))
        }
        // With every slot taken, each newcomer closes a half-open handshake chosen at random
        // (never simply the oldest, which a flood could aim at a slow honest peer).
        #expect(await eventually { ben.transport.counters.handshakesEvicted == 3 }, "\(ben.transport.counters)")
        #expect(await eventually { ben.transport.openConnections == 3 }, "\(ben.transport.openConnections)")
        for fd in fds { close(fd) }
        await ben.transport.shutdown()
    }
}

@Suite("TCP transport timeouts", .serialized)
struct TransportTimeoutTests {
    /// Its own event loop: a flood test of another suite on the shared loops must not hold up
    /// the keep-alives this test times (600 ms).
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    @Test func aSilentPeerIsClosedAfterTheIdleTimeoutWhileKeepAlivesHoldHonestSessions() async throws {
        var limits = TransportLimits()
        limits.idleTimeout = .milliseconds(600)
        limits.keepAliveInterval = .milliseconds(150)
        let ben = try await TestPeer.start(name: "Ben", limits: limits, group: Self.group)
        let ada = try await TestPeer.start(name: "Ada", limits: limits, group: Self.group)

        // An honest session stays open across several idle periods thanks to pings.
        let honest = try await ada.transport.dial(host: "127.0.0.1", port: ben.port, expected: ben.identity)
        // A hand-driven client completes the handshake and hello, then goes silent.
        let mute = try await TestPeer.start(name: "Mute")
        let fd = try RawClient.connect(port: ben.port)
        defer { close(fd) }
        #expect(RawClient.establish(fd, credentials: mute.credentials, expected: ben.identity))
        #expect(RawClient.waitForClose(fd), "the silent client is closed")
        #expect(ben.transport.counters.idleTimeouts >= 1)
        #expect(honest.isActive, "keep-alives kept the honest session open")
        try await honest.send(.unknown(type: "note", fields: ["text": "after idle"]))
        let text = try await ben.next { event -> String? in
            if case .message(_, .unknown("note", let body)) = event { return body["text"]?.textValue }
            return nil
        }
        #expect(text == "after idle")
        await mute.transport.shutdown()
        await ada.transport.shutdown()
        await ben.transport.shutdown()
    }
}
