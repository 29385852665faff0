import Foundation
import Glibc
import KithCBOR
import KithCrypto
import KithModel
@testable import KithNet
import KithProtocol
import KithTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// A raw TCP listener on 127.0.0.1 for hostile answers (an impostor at a dialled address, a
/// hostile relay): accepts with a bounded wait, reads and writes whole frames.
final class RawListener: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = try RawClient.listen()
    }

    /// The next connection, or nil after `seconds`.
    func accept(within seconds: Double) async -> Int32? {
        // Polled without blocking a thread of the shared cooperative pool (the dial under test
        // runs on it too).
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(seconds * Fixtures.timeScale)
        while poll(&p, 1, 0) != 1 {
            guard Date() < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { return nil }
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return client
    }

    func close() { Glibc.close(fd) }

    /// Exactly `count` bytes from `fd`, or nil (closed, or nothing within the socket's timeout).
    static func read(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while out.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - out.count, 0) }
            guard n > 0 else { return nil }
            out += buffer[0..<n]
        }
        return out
    }

    /// One length-prefixed frame's body.
    static func readFrame(_ fd: Int32) -> [UInt8]? {
        guard let header = read(fd, 2) else { return nil }
        return read(fd, Int(header[0]) << 8 | Int(header[1]))
    }
}

/// A weak reference to a channel (to see whether anything still holds a closed one).
final class WeakChannel: @unchecked Sendable {
    weak var channel: (any Channel)?
    init(_ channel: any Channel) { self.channel = channel }
}

/// Red team 16 at the transport: NAT traversal's hostile inputs (`Protocol/transport.md`,
/// handshake and NAT traversal). Loopback only; every wait is bounded.
@Suite("Red team 16: NAT traversal at the transport", .serialized)
struct RedTeam16NetTests {
    // MARK: - Helpers

    /// B's answers to its relay's calls: whether it joins, and the circuits it was called for.
    final class Calls: Sendable {
        let answer = NIOLockedValueBox(true)
        let ids = NIOLockedValueBox<[[UInt8]]>([])
        let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
        func cancel() { task.withLockedValue { $0?.cancel() } }
    }

    /// R relays for its friend B (connected, answering every call while `calls.answer` holds);
    /// A asks. Each with its own limits.
    static func triangle(relay: TransportLimits = RelayTests.patient, behind: TransportLimits = TransportLimits())
        async throws -> (a: TestPeer, r: TestPeer, b: TestPeer, calls: Calls) {
        let r = try await TestPeer.start(name: "Relay", limits: relay)
        let b = try await TestPeer.start(name: "Behind", limits: behind)
        let a = try await TestPeer.start(name: "Asker", limits: RelayTests.patient)
        r.transport.setFriends([b.identity])
        r.transport.setRelaying(true)
        _ = try await b.transport.dial(host: "127.0.0.1", port: r.port, expected: r.identity)
        #expect(await eventually { r.transport.connection(to: b.identity) != nil })
        let transport = b.transport, port = r.port
        let calls = Calls()
        calls.task.withLockedValue {
            $0 = Task {
                for await event in transport.events {
                    guard case .message(_, .relayCall(let circuit)) = event else { continue }
                    calls.ids.withLockedValue { $0.append(circuit) }
                    guard calls.answer.withLockedValue({ $0 }) else { continue }
                    Task { _ = try? await transport.join(circuit: circuit, relayHost: "127.0.0.1", relayPort: port) }
                }
            }
        }
        return (a, r, b, calls)
    }

    /// Plays the impostor's half of the trick: reads the dialler's message 1 on `fd` and answers
    /// with a message 1 of its own that sorts before it (so the dialler turns responder); returns
    /// the identity the dialler then proves in its message 2, if it does.
    static func learnDiallerBySimultaneousOpen(_ fd: Int32) throws -> Identity? {
        guard let theirs = RawListener.readFrame(fd), theirs.count == 32 else { return nil }
        let impostor = SessionCredentials(signing: .generate(), network: .main)
        var hs: NoiseHandshake
        var mine: [UInt8]
        repeat {
            hs = try NoiseHandshake(pattern: .XX, initiator: true, prologue: impostor.prologue, localStatic: impostor.staticKey)
            mine = try hs.writeMessage()
        } while !mine.lexicographicallyPrecedes(theirs)
        RawClient.send(fd, FrameDecoder.frame(mine))
        guard let m2 = RawListener.readFrame(fd), m2.count >= 96, let payload = try? hs.readMessage(m2),
              let proof = try? IdentityProof(decoding: payload, staticKey: hs.remoteStatic ?? [])
        else { return nil }
        return proof.identity
    }

    // MARK: - Simultaneous open

    /// Attack: whoever answers at an address a node dials (a stale address now someone else's, a
    /// hostile relay) sends a 32-byte frame where message 2 belongs, a message 1 of its own whose
    /// ephemeral key sorts before the dialler's. The simultaneous-open rule turns the dialler
    /// into the responder, and a responder proves its identity in message 2.
    /// Expected (`Protocol/transport.md`, "Dialling a key"): an initiator that dialled a key
    /// never reveals itself before the responder proved that key; the role agreement applies
    /// only to hole-punch dials, where both ends dial each other.
    @Test func anImpostorAtADialledAddressCannotMakeTheDiallerRevealItself() async throws {
        let listener = try RawListener()
        defer { listener.close() }
        let a = try await TestPeer.start(name: "Dialler")
        let expected = NodeKeys.generate().identity
        let dial = Task { try? await a.transport.dial(host: "127.0.0.1", port: listener.port, expected: expected) }
        let fd = try #require(await listener.accept(within: 15), "the dialler never reached the listener (a loaded run)")
        defer { close(fd) }
        let learned = try Self.learnDiallerBySimultaneousOpen(fd)
        #expect(learned == nil, "the dialler proved its identity (\(learned?.did ?? "")) to an impostor at the address it dialled")
        dial.cancel()
        await a.transport.shutdown()
    }

    /// Attack: a hostile relay (the relay is chosen by the target, and sees the asker's bytes)
    /// answers the asker's message 1 with a smaller message 1 of its own. Expected
    /// (`Protocol/disclosure.md`): the relay never learns the asker's identity.
    @Test func aHostileRelayCannotLearnWhoAsksForACircuit() async throws {
        let listener = try RawListener()
        defer { listener.close() }
        let a = try await TestPeer.start(name: "Asker")
        let target = NodeKeys.generate().identity
        let dial = Task { try? await a.transport.dial(viaRelay: "127.0.0.1", port: listener.port, to: target) }
        let fd = try #require(await listener.accept(within: 5))
        defer { close(fd) }
        let request = RawListener.readFrame(fd)
        #expect(request == [0x54] + target.bytes)
        let learned = try Self.learnDiallerBySimultaneousOpen(fd)
        #expect(learned == nil, "the relay learned the asker's identity (\(learned?.did ?? ""))")
        dial.cancel()
        await a.transport.shutdown()
    }

    // MARK: - Circuit limits and accounting

    /// Attack: both ends of a circuit send, each staying under the byte limit alone. Expected
    /// (`Protocol/transport.md`, limits): "16 MiB carried per circuit (both directions)" — the
    /// two directions count together and the circuit closes past the limit.
    @Test func aCircuitsByteLimitCountsBothDirections() async throws {
        var limits = TransportLimits()
        limits.relay.bytesPerCircuit = 40_000
        let (a, r, b, calls) = try await Self.triangle(relay: limits)
        defer { calls.cancel() }
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        #expect(await eventually { b.transport.connection(to: a.identity)?.isRelayed == true })
        let back = try #require(b.transport.connection(to: a.identity))
        let note = PeerMessage.unknown(type: "note", fields: ["text": .text(String(repeating: "x", count: 8_000))])
        // 24 KB each way: under the limit alone, 48 KB together.
        for _ in 0..<3 {
            try? await conn.send(note)
            try? await back.send(note)
        }
        #expect(await eventually(3) { !conn.isActive }, "48 KB crossed a circuit limited to 40 KB (both directions)")
        #expect(await eventually { r.transport.openCircuits == 0 })
        for p in [a, r, b] { await p.transport.shutdown() }
    }

    /// Attack: none; the relay stops (`kith stop` while the process lives on, or a node embedded
    /// in a longer-lived process). Expected: ``Transport/shutdown()`` "closes the listener and
    /// every connection", circuits included; the ends notice at once rather than after 30 min.
    @Test func aRelayThatShutsDownClosesItsCircuits() async throws {
        let (a, r, b, calls) = try await Self.triangle()
        defer { calls.cancel() }
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        #expect(conn.isRelayed && r.transport.openCircuits == 1)
        await r.transport.shutdown()
        #expect(await eventually(3) { !conn.isActive }, "the circuit outlived the relay's shutdown")
        #expect(await eventually(3) { r.transport.openCircuits == 0 && r.transport.openConnections == 0 })
        for p in [a, b] { await p.transport.shutdown() }
    }

    /// Attack: a stranger opens circuits and closes them at once, over and over. Each circuit
    /// schedules a task for its 30-minute lifetime holding the dialler's channel. Expected: a
    /// closed circuit's channels are released (nothing holds them for the lifetime), so the
    /// relay's memory does not grow with the number of circuits ever opened.
    @Test func aClosedCircuitIsNotHeldForItsLifetime() async throws {
        // The default 5 s join timeout: nothing below waits for it (its task is cancelled with
        // the circuit), and a shorter one failed a join on a loaded full test run.
        let (a, r, b, calls) = try await Self.triangle()
        defer { calls.cancel() }
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        let halves = r.transport.state.withLockedValue { s in
            s.inbound.filter { $0.key != s.inboundSession[b.identity] }.map { WeakChannel($0.value) }
        }
        #expect(halves.count == 2, "the two halves of the circuit")
        conn.close()
        #expect(await eventually { r.transport.openCircuits == 0 })
        // Also a circuit nobody joins, closed by its dialler before the join timeout.
        calls.answer.withLockedValue { $0 = false }
        let fd = try RawClient.connect(port: r.port)
        RawClient.send(fd, RelayFrame.request(b.identity))
        #expect(await eventually { r.transport.openCircuits == 1 })
        let waiting = r.transport.state.withLockedValue { s in s.relay.waiting.values.map { WeakChannel($0.channel) } }
        close(fd)
        #expect(await eventually { r.transport.openCircuits == 0 })
        let released = await eventually(3) { (halves + waiting).allSatisfy { $0.channel == nil } }
        #expect(released, "closed circuits' channels are still held (by their join-timeout or 30-minute lifetime tasks)")
        for p in [a, r, b] { await p.transport.shutdown() }
    }

    /// Attack: every way a circuit can end — the dialler leaves before the join, the friend never
    /// joins, the friend's half closes, the dialler's half closes, a join for a stale circuit, a
    /// join racing the join timeout, a request split across reads, a request followed by
    /// garbage. Expected: every count in ``RelayState`` and in admission returns to where it
    /// was; the relay still relays.
    @Test func everyWayACircuitEndsFreesItsCounts() async throws {
        var limits = TransportLimits()
        // Long enough that a join under a loaded full test run is on time (step 1); step 6
        // races joins against it on purpose.
        limits.relay.joinTimeout = .milliseconds(1_500)
        let (a, r, b, calls) = try await Self.triangle(relay: limits)
        defer { calls.cancel() }
        let baseline = r.transport.openConnections
        func settled() -> Bool {
            r.transport.state.withLockedValue { s in
                s.relay.open == 0 && s.relay.waiting.isEmpty && s.relay.byFriend.isEmpty && s.relay.byNetwork.isEmpty
                    && s.admission.count == s.inbound.count
            } && r.transport.openConnections == baseline
        }
        // 1. A request split into single bytes, then a real session through it; the friend's half
        //    closes first.
        let fd = try RawClient.connect(port: r.port)
        for byte in RelayFrame.request(b.identity) {
            RawClient.send(fd, [byte])
            try await Task.sleep(for: .milliseconds(5))
        }
        let asker = SessionCredentials(signing: .generate(), network: .main)
        // Off the cooperative pool: the friend's join (the test's call answerer) runs on it, and a
        // blocking read there could starve it under a loaded full run.
        let opened = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async { done.resume(returning: RawClient.session(fd, credentials: asker, expected: b.identity) != nil) }
        }
        #expect(opened, "a request split across reads still opens its circuit")
        #expect(await eventually { b.transport.connection(to: asker.identity) != nil })
        b.transport.connection(to: asker.identity)?.close()
        #expect(RawClient.waitForClose(fd))
        close(fd)
        #expect(await eventually { settled() }, "after the friend's half closed")
        // 2. The request followed at once by garbage: the friend's handshake fails, all closes.
        let fd2 = try RawClient.connect(port: r.port)
        RawClient.send(fd2, RelayFrame.request(b.identity) + [0, 32] + [UInt8](repeating: 0, count: 32) + Random.bytes(500))
        #expect(RawClient.waitForClose(fd2))
        close(fd2)
        #expect(await eventually { settled() }, "after garbage through a circuit")
        // 3. The dialler's half closes (through the session).
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        conn.close()
        #expect(await eventually { settled() }, "after the dialler's half closed")
        // 4. The friend stops joining: the dialler hears "no answer" at the join timeout.
        calls.answer.withLockedValue { $0 = false }
        for _ in 0..<3 {
            await #expect(throws: (any Error).self) { try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity) }
        }
        #expect(await eventually { settled() }, "after unanswered circuits")
        // 5. The dialler leaves before the join; then a late join for that circuit is closed.
        let ids = calls.ids
        ids.withLockedValue { $0 = [] }
        let fd3 = try RawClient.connect(port: r.port)
        RawClient.send(fd3, RelayFrame.request(b.identity))
        #expect(await eventually { !ids.withLockedValue { $0 }.isEmpty })
        close(fd3)
        #expect(await eventually { settled() }, "after the dialler left before the join")
        let circuit = try #require(ids.withLockedValue { $0.first })
        await #expect(throws: (any Error).self) { try await b.transport.join(circuit: circuit, relayHost: "127.0.0.1", relayPort: r.port) }
        #expect(await eventually { settled() }, "after a join for a circuit that ended")
        // 6. A join racing the join timeout: either joined or refused, never both, never leaked.
        var outcomes: [Bool] = []
        for delay in [1_300, 1_450, 1_500, 1_550, 1_700] {
            let before = ids.withLockedValue { $0.count }
            let fd4 = try RawClient.connect(port: r.port)
            RawClient.send(fd4, RelayFrame.request(b.identity))
            #expect(await eventually { ids.withLockedValue { $0.count } > before })
            let id = ids.withLockedValue { $0.last! }
            try await Task.sleep(for: .milliseconds(delay))
            let joined = (try? await b.transport.join(circuit: id, relayHost: "127.0.0.1", relayPort: r.port)) != nil
            outcomes.append(joined)
            close(fd4)
            #expect(await eventually { settled() }, "after a join \(delay) ms into a 1,500 ms timeout")
        }
        let c = r.transport.counters
        #expect(c.circuitsJoined + c.circuitsUnanswered >= 2 + 3 + 5 - 1, "\(c) \(outcomes)")
        // The relay still relays for its friend.
        calls.answer.withLockedValue { $0 = true }
        #expect((try? await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity))?.isRelayed == true)
        for p in [a, r, b] { await p.transport.shutdown() }
    }

    /// Attack: many diallers ask for circuits and stuff each with the most the relay holds
    /// before the join (70,000 bytes). Expected: waiting circuits are bounded in number (per
    /// network by admission, in all by `circuits`), so what the relay holds is bounded too, and
    /// one more byte than the hold limit closes the circuit.
    @Test func waitingCircuitsHoldABoundedAmount() async throws {
        var limits = TransportLimits()
        limits.relay.circuitsPerFriend = 64
        limits.relay.joinTimeout = .seconds(3)
        let r = try await TestPeer.start(name: "Relay", limits: limits)
        let b = try await TestPeer.start(name: "Behind")
        r.transport.setFriends([b.identity])
        r.transport.setRelaying(true)
        _ = try await b.transport.dial(host: "127.0.0.1", port: r.port, expected: r.identity)
        #expect(await eventually { r.transport.connection(to: b.identity) != nil })
        var fds: [Int32] = []
        for i in 0..<40 {
            // Several source addresses, as a botnet would.
            guard let fd = try? RawClient.connect(port: r.port, from: "127.0.\(2 + i % 5).\(1 + i)") else { continue }
            RawClient.send(fd, RelayFrame.request(b.identity))
            RawClient.send(fd, [UInt8](repeating: 0xAB, count: RelayPipe.holdLimit - 100))
            fds.append(fd)
        }
        try await Task.sleep(for: .milliseconds(500))
        let waiting = r.transport.state.withLockedValue { $0.relay.waiting.count }
        #expect(waiting <= 5 * limits.maxHandshakesPerNetwork && waiting <= limits.relay.circuits, "\(waiting) circuits waiting")
        // One more byte than the hold limit closes that circuit.
        if let fd = fds.first {
            RawClient.send(fd, [UInt8](repeating: 0xAB, count: 200))
            #expect(RawClient.waitForClose(fd))
        }
        for fd in fds { close(fd) }
        #expect(await eventually { r.transport.openCircuits == 0 })
        for p in [r, b] { await p.transport.shutdown() }
    }

    // MARK: - What a relayed session costs the node behind the NAT

    /// Attack: a stranger reaches a node through its relay and then stays silent. An inbound
    /// stranger's session that sends nothing is closed after `strangerIdleTimeout`; the node's
    /// side of a circuit is a connection it dialled (to the relay), so none of the inbound
    /// budgets for strangers apply to it. Expected: a stranger's relayed session is closed for
    /// idling like a direct one (otherwise strangers hold the circuits and the node's outbound
    /// budget for as long as they like).
    @Test func aStrangersIdleRelayedSessionIsClosedLikeADirectOne() async throws {
        var behind = TransportLimits()
        behind.strangerIdleTimeout = .milliseconds(900)
        let (a, r, b, calls) = try await Self.triangle(behind: behind)
        defer { calls.cancel() }
        // The control: a direct stranger's idle session is closed.
        let direct = try await TestPeer.start(name: "Direct")
        let d = try await direct.transport.dial(host: "127.0.0.1", port: b.port, expected: b.identity)
        #expect(await eventually(4) { !d.isActive }, "a direct idle stranger is closed")
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        #expect(conn.isRelayed)
        #expect(await eventually(4) { !conn.isActive }, "a stranger's idle relayed session stays open at the node")
        for p in [a, r, b, direct] { await p.transport.shutdown() }
    }

    /// Attack: a stranger asks the relay for circuits to its friend and hangs up at once, over
    /// and over. Each request makes the relay send its friend a `relay-call`, whose rate nothing
    /// bounds (the circuit slot frees as the stranger hangs up); the friend closes a session
    /// that sends faster than its message limit — the session with its own relay. (Limits scaled
    /// down: 20 messages/s with a burst of 40 at the friend; the defaults, 1,000/s and 5,000,
    /// take a few thousand connections a second, which an attacker on the internet has.)
    /// Expected: a stranger cannot make the relay flood its friend, so the friend keeps its relay.
    @Test func aStrangerCannotMakeTheRelayFloodItsFriendOffTheSession() async throws {
        var behind = TransportLimits()
        behind.messagesPerSecond = 20
        behind.messageBurst = 40
        let (_, r, b, calls) = try await Self.triangle(behind: behind)
        defer { calls.cancel() }
        for i in 0..<150 {
            guard let fd = try? RawClient.connect(port: r.port, from: "127.0.\(2 + i % 8).1") else { continue }
            RawClient.send(fd, RelayFrame.request(b.identity))
            try? await Task.sleep(for: .milliseconds(2))
            close(fd)
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(b.transport.counters.closedForFlooding == 0, "the friend closed its relay's session for flooding it with relay-calls")
        #expect(r.transport.connection(to: b.identity)?.isActive == true, "the relay lost its friend")
        for p in [r, b] { await p.transport.shutdown() }
    }

    // MARK: - One session per pair

    /// Attack: a peer with a direct session opens a relayed one to the same node (and the
    /// reverse order). Expected: the direct session stays on both sides; the relayed one is
    /// closed, its circuit too.
    @Test func aRelayedSessionNeverDisplacesADirectOne() async throws {
        let (a, r, b, calls) = try await Self.triangle()
        defer { calls.cancel() }
        let direct = try await a.transport.dial(host: "127.0.0.1", port: b.port, expected: b.identity)
        #expect(!direct.isRelayed)
        _ = try? await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        try await Task.sleep(for: .milliseconds(300))
        #expect(direct.isActive)
        #expect(a.transport.connection(to: b.identity) == direct)
        #expect(b.transport.connection(to: a.identity)?.isRelayed == false)
        #expect(await eventually { r.transport.openCircuits == 0 })
        for p in [a, r, b] { await p.transport.shutdown() }
    }
}
