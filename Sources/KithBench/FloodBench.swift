import Foundation
import KithCrypto
import KithModel
import KithNet
import KithProtocol
import Logging
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Honest handshakes a node completes while a flood of empty connections hits it, against the
/// rate it completes without the flood, measured in the same run (issue 14).
///
/// A listening transport (default budgets) in this process; an honest dialler opens sessions to
/// it one after the other, each closed once established. The flood: one thread opening 10,000
/// connections that never send a byte, from 20 loopback networks (127.4.N.x), as fast as it
/// can, keeping 1,500 open. Under it the node is under load, so every honest dial also pays a
/// retry-cookie round trip.
enum FloodBench {
    static func measure(flood total: Int, progress: (String) -> Void) async throws -> [BenchResult] {
        FileDescriptorLimit.raise(toAtLeast: 4_096)
        // The node and the honest dialler each on an event loop of its own, as in two processes.
        let nodeLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1), diallerLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let node = Transport(credentials: SessionCredentials(signing: .generate(), network: .main), group: nodeLoop, logger: logger)
        let (_, port) = try await node.listen(host: "127.0.0.1", port: 0)
        let dialler = Transport(credentials: SessionCredentials(signing: .generate(), network: .main), group: diallerLoop, logger: logger)

        /// Sessions completed per second, over `seconds` or until `until` says stop.
        func handshakeRate(for seconds: Double, until done: @Sendable () -> Bool = { false }) async throws -> (rate: Double, count: Int) {
            let start = DispatchTime.now().uptimeNanoseconds
            var count = 0
            func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
            while elapsed() < seconds && !done() {
                let conn = try await dialler.dial(host: "127.0.0.1", port: port, expected: node.identity)
                count += 1
                conn.close()
                // The next dial must not find this session still registered.
                while dialler.connection(to: node.identity) != nil { try await Task.sleep(for: .milliseconds(1)) }
            }
            return (Double(count) / elapsed(), count)
        }

        progress("flood: honest handshakes for 3 s without a flood")
        let quiet = try await handshakeRate(for: 3)
        progress("flood: honest handshakes while \(total) empty connections arrive")
        let flood = EmptyConnectionFlood(port: port, total: total)
        let flooded = try await handshakeRate(for: 60, until: { flood.isFinished })
        let floodSeconds = flood.waitUntilFinished()
        let counters = node.counters
        progress("flood: \(flood.opened) connections in \(String(format: "%.1f", floodSeconds)) s; \(flooded.count) honest handshakes meanwhile")
        await dialler.shutdown()
        await node.shutdown()
        try await nodeLoop.shutdownGracefully()
        try await diallerLoop.shutdownGracefully()
        return [
            BenchResult(name: "handshakes_under_flood", value: flooded.rate, unit: "1/s", baseline: quiet.rate, ratio: flooded.rate / quiet.rate, goal: 0.25,
                        note: "sequential honest sessions (dial, handshake, hello, close) while one thread opens \(flood.opened) empty connections "
                            + String(format: "in %.1f s (%.0f/s) from 20 networks", floodSeconds, Double(flood.opened) / max(floodSeconds, 0.001))
                            + " (\(counters.handshakesEvicted) evicted at random, \(counters.retries) retry cookies), vs the same without the flood"),
        ]
    }
}

/// One thread opening connections that never send a byte, as fast as it can.
private final class EmptyConnectionFlood: @unchecked Sendable {
    // Sendable: the counters are guarded by `lock`; the socket list belongs to the thread.
    private let lock = NSLock()
    private var finishedAt: Double?
    private var count = 0
    private let started = DispatchTime.now().uptimeNanoseconds
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, total: Int) {
        Thread { [self] in
            var open: [Int32] = []
            for i in 0..<total {
                let fd = Self.connect(port: port, from: "127.4.\(i % 20).\(1 + (i / 20) % 250)")
                if fd >= 0 {
                    open.append(fd)
                    lock.withLock { count += 1 }
                }
                if open.count > 1_500 { close(open.removeFirst()) }
            }
            for fd in open { close(fd) }
            lock.withLock { finishedAt = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
            done.signal()
        }.start()
    }

    var isFinished: Bool { lock.withLock { finishedAt != nil } }
    var opened: Int { lock.withLock { count } }

    /// Blocks until the flood has opened all its connections; its duration in seconds.
    func waitUntilFinished() -> Double {
        done.wait()
        done.signal()
        return lock.withLock { finishedAt ?? 0 }
    }

    /// A connected socket to 127.0.0.1:`port` from `source`, or -1.
    private static func connect(port: Int, from source: String) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var local = sockaddr_in(), remote = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) } }
        guard bound == 0, connected == 0 else {
            close(fd)
            return -1
        }
        return fd
    }
}
