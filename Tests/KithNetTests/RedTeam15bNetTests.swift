import Foundation
import Glibc
import KithDHT
import KithNet
import KithTestSupport
import Logging
import NIOPosix
import Testing

/// Red team 15b: the `DHTService` UDP driver (shutdown while lookups run, lookups after
/// shutdown, port sharing, junk datagrams). Loopback only; every wait is bounded.
@Suite("Red team 15b: the DHT service driver", .serialized)
struct RedTeam15bNetTests {
    static func service(_ group: MultiThreadedEventLoopGroup) -> DHTService {
        var logger = Logger(label: "rt15b")
        logger.logLevel = .critical
        var configuration = DHTNode.Configuration()
        configuration.restrictAddresses = false
        return DHTService(configuration: configuration, group: group, logger: logger)
    }

    /// A UDP socket on 127.0.0.1 that never answers.
    static func silentSocket() -> LoopbackUDP { LoopbackUDP() }

    actor Counter {
        var count = 0
        func add() { count += 1 }
    }

    /// Waits up to `seconds` until `counter` reaches `target`; returns the count.
    static func wait(_ counter: Counter, for target: Int, _ seconds: Double) async -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await counter.count >= target { return target }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await counter.count
    }

    /// 50 lookups run against a bootstrap node that never answers; shutdown ends them all with
    /// what they have (as documented), well before their 2 s query timeout.
    @Test func shutdownEndsEveryLookupInFlight() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = Self.silentSocket()
        defer { silent.close() }
        let dht = Self.service(group)
        _ = try await dht.bind(host: "127.0.0.1", port: 0)
        let target = DHTAddress(host: "127.0.0.1", port: silent.port)!
        let done = Counter()
        Task { _ = await dht.bootstrap([target]); await done.add() }
        try await Task.sleep(for: .milliseconds(100))
        for i in 0..<49 {
            Task {
                if i % 2 == 0 { _ = await dht.get(key: Array(repeating: UInt8(i), count: 32)) } else {
                    _ = await dht.bootstrap([target])
                }
                await done.add()
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let started = Date()
        await dht.shutdown()
        let finished = await Self.wait(done, for: 50, 5)
        #expect(finished == 50, "\(finished) of 50 lookups ended after shutdown")
        #expect(Date().timeIntervalSince(started) < 1.5, "shutdown ended them only at their timeout")
        try await group.shutdownGracefully()
    }

    /// A lookup started after shutdown (a redial or a `connect` still running when the node
    /// stops) must end too: with the tick cancelled and the socket closed, nothing else will.
    @Test func aLookupStartedAfterShutdownEnds() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = Self.silentSocket()
        defer { silent.close() }
        let dht = Self.service(group)
        _ = try await dht.bind(host: "127.0.0.1", port: 0)
        let target = DHTAddress(host: "127.0.0.1", port: silent.port)!
        let joined = Counter()
        Task { _ = await dht.bootstrap([target]); await joined.add() }
        try await Task.sleep(for: .milliseconds(200))
        await dht.shutdown()
        #expect(await Self.wait(joined, for: 1, 3) == 1, "the join in flight did not end at shutdown")
        let after = Counter()
        Task { _ = await dht.get(key: Array(repeating: 7, count: 32)); await after.add() }
        Task { _ = await dht.put(MutableItem(key: Array(repeating: 7, count: 32), salt: [], seq: 1, value: .integer(1), signature: Array(repeating: 0, count: 64))); await after.add() }
        let ended = await Self.wait(after, for: 2, 6)
        #expect(ended == 2, "\(2 - ended) lookup(s) started after shutdown never ended (their continuation is never resumed)")
        try await group.shutdownGracefully()
    }

    /// Shutdown racing many lookups being started from other tasks: every one ends.
    @Test func shutdownRacingLookupsBeingStartedLeavesNoneWaiting() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let silent = Self.silentSocket()
        defer { silent.close() }
        let dht = Self.service(group)
        _ = try await dht.bind(host: "127.0.0.1", port: 0)
        let target = DHTAddress(host: "127.0.0.1", port: silent.port)!
        let done = Counter()
        let total = 200
        for i in 0..<total {
            Task.detached {
                if i == 0 { _ = await dht.bootstrap([target]) } else { _ = await dht.get(key: Array(repeating: UInt8(i % 256), count: 32)) }
                await done.add()
            }
            if i == total / 2 { Task.detached { await dht.shutdown() } }
        }
        let finished = await Self.wait(done, for: total, 8)
        #expect(finished == total, "\(total - finished) of \(total) lookups never ended around shutdown")
        try await group.shutdownGracefully()
    }

    /// The node binds its DHT socket on TCP port + 1 and falls back to a free port "if that one
    /// is busy". With SO_REUSEADDR on the UDP socket, a second DHT service (a second node on the
    /// machine, or any local process setting SO_REUSEADDR) binds the same address and port
    /// without error, and the two then share (or steal) each other's datagrams.
    @Test func aSecondServiceCannotBindADHTPortInUse() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let first = Self.service(group), second = Self.service(group)
        let bound = try await first.bind(host: "127.0.0.1", port: 0)
        var secondBound: (host: String, port: Int)?
        do { secondBound = try await second.bind(host: "127.0.0.1", port: bound.port) } catch {}
        #expect(secondBound == nil, "a second DHT service bound 127.0.0.1:\(bound.port), already in use by the first")
        // A plain process setting SO_REUSEADDR can bind it too.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(bound.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        close(fd)
        #expect(rc != 0, "another socket with SO_REUSEADDR bound the DHT port in use")
        await first.shutdown()
        await second.shutdown()
        try await group.shutdownGracefully()
    }

    /// Junk and oversized datagrams straight at the service: an honest ping is answered after
    /// them, and the counters move.
    @Test func junkAndOversizedDatagramsLeaveTheServiceAnswering() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let dht = Self.service(group)
        let bound = try await dht.bind(host: "127.0.0.1", port: 0)
        let client = Self.silentSocket()
        defer { client.close() }
        func send(_ bytes: [UInt8]) { client.send(bytes, to: bound.port) }
        func answered(_ t: String) -> Bool {
            send(Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:\(t)1:y1:qe".utf8))
            // An answer: "y" = "r" and our transaction id ("v" sits between "t" and "y").
            let needle = Array("1:t2:\(t)".utf8), reply = Array("1:y1:r".utf8)
            let deadline = Date().addingTimeInterval(3)
            var buffer = [UInt8](repeating: 0, count: 2_048)
            while Date() < deadline {
                let n = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
                guard n >= needle.count else { continue }
                let got = Array(buffer[0..<n])
                func has(_ x: [UInt8]) -> Bool { (0...(got.count - x.count)).contains { Array(got[$0..<($0 + x.count)]) == x } }
                if has(needle), has(reply) { return true }
            }
            return false
        }
        for size in [0, 1, 1_499, 1_500, 1_501, 4_096, 65_507] {
            send((0..<size).map { _ in UInt8.random(in: 0...255) })
        }
        for _ in 0..<3_000 { send((0..<Int.random(in: 1...200)).map { _ in UInt8.random(in: 0...255) }) }
        send(Array(repeating: 0x6c, count: 1_500))
        // UDP is lossy: the junk may fill the socket's receive buffer, so the ping is sent again
        // (a few times, 3 s apart) until the service, having drained it, answers.
        var ok = false
        for attempt in 0..<5 where !ok { ok = answered("o\(attempt)") }
        #expect(ok, "an honest ping after the junk went unanswered")
        #expect(dht.statistics.malformed >= 100, "\(dht.statistics)")
        await dht.shutdown()
        try await group.shutdownGracefully()
    }
}
