import Foundation
import KithCBOR
import KithModel
@testable import KithNet
import KithProtocol
import KithTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Relays through friends and hole punching at the transport (`Protocol/transport.md`, relays):
/// a circuit carries one end-to-end Noise session, every limit holds against a hostile dialler,
/// and a direct session replaces a relayed one.
@Suite("Relays and hole punching", .serialized)
struct RelayTests {
    /// Notes the relayed friend received.
    static let notes = NIOLockedValueBox<[String]>([])

    /// The relayed friend's side: answers every `relay-call` by joining the circuit (and keeps
    /// the notes it hears in ``notes``).
    static func answerCalls(_ peer: TestPeer, relayPort: Int) -> Task<Void, Never> {
        let transport = peer.transport
        return Task {
            for await event in transport.events {
                if case .message(_, .relayCall(let circuit)) = event {
                    _ = try? await transport.join(circuit: circuit, relayHost: "127.0.0.1", relayPort: relayPort)
                }
                if case .message(_, .unknown("note", let body)) = event, let text = body["text"]?.textValue {
                    notes.withLockedValue { $0.append(text) }
                }
            }
        }
    }

    /// R relays for its friend B (connected); returns (A, R, B) with B answering calls.
    /// A relay and an asker that wait 20 s for the friend to join: on a loaded full test run the
    /// friend's answer (a task on the shared pool) can take more than the usual 5 s.
    static var patient: TransportLimits {
        var limits = TransportLimits()
        limits.relay.joinTimeout = .seconds(20)
        return limits
    }

    static func triangle(limits: TransportLimits = patient) async throws -> (a: TestPeer, r: TestPeer, b: TestPeer, answering: Task<Void, Never>) {
        let r = try await TestPeer.start(name: "Relay", limits: limits)
        let b = try await TestPeer.start(name: "Behind")
        let a = try await TestPeer.start(name: "Asker", limits: patient)
        r.transport.setFriends([b.identity])
        r.transport.setRelaying(true)
        _ = try await b.transport.dial(host: "127.0.0.1", port: r.port, expected: r.identity)
        #expect(await eventually { r.transport.connection(to: b.identity) != nil })
        return (a, r, b, answerCalls(b, relayPort: r.port))
    }

    @Test func aCircuitCarriesOneEndToEndSessionTheRelayCannotRead() async throws {
        let (a, r, b, answering) = try await Self.triangle()
        defer { answering.cancel() }
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        #expect(conn.isRelayed && conn.peer == b.identity)
        try await conn.send(.unknown(type: "note", fields: ["text": "through the relay"]))
        #expect(await eventually { b.transport.connection(to: a.identity)?.isRelayed == true })
        #expect(await eventually { Self.notes.withLockedValue { $0.contains("through the relay") } })
        // The relay holds no session with the asker: it only joined two connections.
        #expect(r.transport.connection(to: a.identity) == nil)
        #expect(r.transport.counters.circuitsJoined == 1 && r.transport.openCircuits == 1)
        // A direct session replaces the relayed one on both sides (and is never replaced by one).
        let direct = try await a.transport.dial(host: "127.0.0.1", port: b.port, expected: b.identity)
        #expect(!direct.isRelayed)
        #expect(await eventually { b.transport.connection(to: a.identity)?.isRelayed == false })
        #expect(await eventually { r.transport.openCircuits == 0 }, "the relayed session closed, and its circuit with it")
        for p in [a, r, b] { await p.transport.shutdown() }
    }

    @Test func aRelayRefusesWhatItMustNotCarry() async throws {
        var limits = TransportLimits()
        limits.relay.circuitsPerFriend = 1
        // Room for the friend's join on a loaded full run (its answerer shares the cooperative
        // pool with every other suite); the "never joins" case below waits this long. It stays
        // under the 5 s handshake timeout, or the connection closes before the relay says why.
        limits.relay.joinTimeout = .seconds(4)
        let (a, r, b, answering) = try await Self.triangle(limits: limits)
        // Someone the relay is not a friend of.
        let stranger = try await TestPeer.start(name: "Stranger")
        await #expect(throws: TransportError.self) { try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: stranger.identity) }
        do {
            _ = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: stranger.identity)
        } catch { #expect("\(error)".contains("does not relay for them"), "\(error)") }
        // A friend that is not connected.
        let absent = try await TestPeer.start(name: "Absent")
        r.transport.setFriends([b.identity, absent.identity])
        do {
            _ = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: absent.identity)
            Issue.record("a circuit to an unconnected friend")
        } catch { #expect("\(error)".contains("not connected to the relay"), "\(error)") }
        // One circuit per friend here: the second is refused while the first lives.
        let first = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        let c = try await TestPeer.start(name: "Second")
        do {
            _ = try await c.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
            Issue.record("a circuit beyond the limit")
        } catch { #expect("\(error)".contains("circuit limit"), "\(error)") }
        first.close()
        // A friend that never joins: the asker hears why within the join timeout.
        answering.cancel()
        #expect(await eventually { r.transport.openCircuits == 0 })
        do {
            _ = try await c.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
            Issue.record("a circuit nobody joined")
        } catch { #expect("\(error)".contains("did not answer the relay"), "\(error)") }
        // Relaying off: nothing is carried, even for a friend.
        r.transport.setRelaying(false)
        do {
            _ = try await c.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
            Issue.record("a circuit with relaying off")
        } catch { #expect("\(error)".contains("does not relay"), "\(error)") }
        #expect(r.transport.counters.circuitsRefused >= 1 && r.transport.counters.circuitsUnanswered == 1)
        for p in [a, r, b, stranger, absent, c] { await p.transport.shutdown() }
    }

    @Test func hostileCircuitFramesAndOverlongCircuitsAreClosed() async throws {
        var limits = TransportLimits()
        limits.relay.bytesPerCircuit = 20_000
        let (a, r, b, answering) = try await Self.triangle(limits: limits)
        defer { answering.cancel() }
        // A join for a circuit nobody asked for is closed; so is a request for a malformed key.
        let fd = try RawClient.connect(port: r.port)
        RawClient.send(fd, [0, 17, 0x4A] + [UInt8](repeating: 7, count: 16))
        #expect(RawClient.waitForClose(fd))
        close(fd)
        let fd2 = try RawClient.connect(port: r.port)
        RawClient.send(fd2, [0, 33, 0x54] + [UInt8](repeating: 0, count: 32))
        #expect(RawClient.waitForClose(fd2))
        close(fd2)
        // A circuit that carries more than its byte limit is closed (both halves).
        let conn = try await a.transport.dial(viaRelay: "127.0.0.1", port: r.port, to: b.identity)
        let big = String(repeating: "x", count: 8_000)
        for _ in 0..<5 { try? await conn.send(.unknown(type: "note", fields: ["text": .text(big)])) }
        #expect(await eventually { !conn.isActive }, "the circuit closed past its byte limit")
        #expect(await eventually { r.transport.openCircuits == 0 })
        // The relay still serves its friend.
        #expect(r.transport.connection(to: b.identity)?.isActive == true)
        for p in [a, r, b] { await p.transport.shutdown() }
    }

    /// Both sides dial each other from their listening ports at once (what a hole punch does):
    /// whichever way TCP joins the dials, one session per pair results, on both sides.
    @Test func simultaneousPunchesLeaveOneSession() async throws {
        for _ in 0..<5 {
            let a = try await TestPeer.start(name: "A"), b = try await TestPeer.start(name: "B")
            async let ab = try? a.transport.punch(host: "127.0.0.1", port: b.port, expected: b.identity)
            async let ba = try? b.transport.punch(host: "127.0.0.1", port: a.port, expected: a.identity)
            let (x, y) = await (ab, ba)
            #expect(x != nil || y != nil)
            #expect(await eventually {
                guard let s = a.transport.connection(to: b.identity), let t = b.transport.connection(to: a.identity) else { return false }
                return s.isActive && t.isActive && s.localAddress == t.remoteAddress
            })
            // Punched connections leave from the listening ports.
            let s = a.transport.connection(to: b.identity)
            #expect(s?.localAddress.hasSuffix(":\(a.port)") == true || s?.remoteAddress.hasSuffix(":\(b.port)") == true)
            await a.transport.shutdown()
            await b.transport.shutdown()
        }
    }
}

@Suite("Relay frames")
struct RelayFrameTests {
    @Test func framesRoundTripAndNothingElseReadsAsOne() throws {
        let who = NodeKeys.generate().identity
        let request = RelayFrame.request(who)
        #expect(request.count == 35 && request[0] == 0 && request[1] == 33)
        #expect(RelayFrame.target(in: request[2...]) == who)
        let join = RelayFrame.join([UInt8](repeating: 9, count: 16))
        #expect(RelayFrame.circuit(in: join[2...]) == [UInt8](repeating: 9, count: 16))
        #expect(RelayFrame.target(in: join[2...]) == nil && RelayFrame.circuit(in: request[2...]) == nil)
        #expect(RelayFrame.refusal(in: RelayFrame.refusal(.full)[2...]) == .full)
        // A Noise message 1 (32 bytes) and a cookie frame are none of them.
        let m1 = [UInt8](repeating: 0x54, count: 32)
        #expect(RelayFrame.target(in: m1[...]) == nil && RelayFrame.circuit(in: m1[...]) == nil && RelayFrame.refusal(in: m1[...]) == nil)
    }
}
