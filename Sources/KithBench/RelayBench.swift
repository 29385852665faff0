import Foundation
import KithCrypto
import KithModel
import KithNet
import KithProtocol
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// A session through a relay (issue 16) against a direct session measured in the same run: bulk
/// throughput and small-message round trips, three transports in this process on loopback (the
/// relay copies every byte through its own process, as a friend's node does).
enum RelayBench {
    static func measure(megabytes: Int, roundTrips: Int, progress: (String) -> Void) async throws -> [BenchResult] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        func transport() -> Transport {
            var limits = TransportLimits()
            limits.messagesPerSecond = .infinity
            limits.relay.bytesPerCircuit = Int.max / 2
            return Transport(credentials: SessionCredentials(signing: .generate(), network: .main), limits: limits, group: group, logger: logger)
        }
        let relay = transport(), target = transport(), direct = transport(), relayed = transport()
        let (_, relayPort) = try await relay.listen(host: "127.0.0.1", port: 0)
        let (_, targetPort) = try await target.listen(host: "127.0.0.1", port: 0)
        relay.setFriends([target.identity])
        relay.setRelaying(true)
        _ = try await target.dial(host: "127.0.0.1", port: relayPort, expected: relay.identity)
        // The target: joins circuits, counts bulk messages and answers pings, per peer.
        let received = NIOLockedValueBox<[Identity: Int]>([:])
        let answering = Task {
            for await event in target.events {
                switch event {
                case .message(_, .relayCall(let circuit)):
                    Task { _ = try? await target.join(circuit: circuit, relayHost: "127.0.0.1", relayPort: relayPort) }
                case .message(let conn, .unknown("data", _)):
                    received.withLockedValue { $0[conn.peer, default: 0] += 1 }
                case .message(let conn, .unknown("ping-bench", let body)):
                    try? await conn.send(.unknown(type: "pong-bench", fields: body))
                default: break
                }
            }
        }
        defer { answering.cancel() }
        while relay.connection(to: target.identity) == nil { try await Task.sleep(for: .milliseconds(5)) }

        func run(_ name: String, from node: Transport, _ conn: PeerConnection) async throws -> (mibs: Double, rtt: Double) {
            let payload = [UInt8](repeating: 0x5a, count: 60_000)
            let count = megabytes * 1_048_576 / payload.count
            var best = 0.0
            for round in 1...3 {
                progress("relay: \(name), round \(round) of 3, \(megabytes) MiB of 60 KB messages")
                let before = received.withLockedValue { $0[node.identity, default: 0] }
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<count { try await conn.send(.unknown(type: "data", fields: ["b": .bytes(payload)])) }
                while received.withLockedValue({ $0[node.identity, default: 0] }) < before + count { try await Task.sleep(for: .microseconds(200)) }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                best = max(best, Double(count * payload.count) / seconds / 1_048_576)
            }
            progress("relay: \(name), \(roundTrips) small request/response pairs")
            var events = node.events.makeAsyncIterator()
            var samples: [Double] = []
            for i in 0..<roundTrips {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try await conn.send(.unknown(type: "ping-bench", fields: ["n": .unsigned(UInt64(i)), "pad": .bytes([UInt8](repeating: 1, count: 80))]))
                while let event = await events.next() { if case .message(_, .unknown("pong-bench", _)) = event { break } }
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return (best, samples.sorted()[samples.count / 2])
        }
        let straight = try await run("direct session", from: direct, try await direct.dial(host: "127.0.0.1", port: targetPort, expected: target.identity))
        let through = try await run("relayed session", from: relayed, try await relayed.dial(viaRelay: "127.0.0.1", port: relayPort, to: target.identity))
        for t in [relay, target, direct, relayed] { await t.shutdown() }
        try await group.shutdownGracefully()
        return [
            BenchResult(name: "relay_throughput", value: through.mibs, unit: "MiB/s", baseline: straight.mibs, ratio: through.mibs / straight.mibs, goal: 0.5,
                        note: "one Noise session through a relay circuit (two extra loopback hops and a copy in the relay) vs a direct session, same run, best of 3 rounds each"),
            BenchResult(name: "relay_rtt", value: through.rtt * 1e6, unit: "µs", baseline: straight.rtt * 1e6, ratio: straight.rtt / through.rtt, goal: nil,
                        note: "median request/response of 100-byte messages through the relay vs the direct session"),
        ]
    }
}
