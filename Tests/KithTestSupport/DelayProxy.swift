import Foundation
import Glibc

/// A userspace TCP proxy on loopback that holds every chunk for `delay` seconds each way (a
/// peer 2 × `delay` away), connecting to the target from a chosen local address (so the target
/// sees that address, and its network). For the hostile-load tests' distant honest stranger.
public final class DelayProxy: @unchecked Sendable {
    // Sendable: `listener` and `stopped` are guarded by `lock`; the threads own their sockets.
    public let port: Int
    private let lock = NSLock()
    private var listener: Int32
    private var stopped = false

    /// Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`target` from `source`.
    public init(target: Int, delay: Double, source: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard RawClient.bind(fd, to: "127.0.0.1"), listen(fd, 64) == 0 else { close(fd); throw RawClientError("proxy: cannot listen") }
        var addr = sockaddr_in(), len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        let thread = Thread { [self] in acceptLoop(target: target, delay: delay, source: source) }
        thread.start()
    }

    /// Stops accepting (open relays end when either side closes).
    public func stop() {
        lock.withLock {
            stopped = true
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private func acceptLoop(target: Int, delay: Double, source: String) {
        while true {
            let fd = lock.withLock { listener }
            let client = accept(fd, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            Self.relay(client: client, target: target, delay: delay, source: source)
        }
    }

    /// Relays one accepted connection. As over a real link, the target sees the connection one
    /// `delay` after the client dialled — when the client's first bytes reach it too (a TCP
    /// server accepts on the client's ACK, which the client's first data segment follows) — and
    /// every chunk one `delay` after it was sent.
    private static func relay(client: Int32, target: Int, delay: Double, source: String) {
        let upstreamQueue = DispatchQueue(label: "delay-proxy-up")
        let upstream = Upstream()
        upstreamQueue.asyncAfter(deadline: .now() + delay) {
            guard let fd = try? RawClient.connect(port: target, from: source) else {
                shutdown(client, Int32(SHUT_RDWR))
                return
            }
            var none = timeval(tv_sec: 0, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
            upstream.fd = fd
            let pair = Pair(client, fd)
            copy(from: fd, delay: delay, queue: DispatchQueue(label: "delay-proxy-down"), write: { RawClient.send(client, $0) },
                 end: { shutdown(client, Int32(SHUT_WR)) }, ended: { pair.directionEnded() })
            upstream.pair = pair
        }
        copy(from: client, delay: delay, queue: upstreamQueue,
             write: { bytes in if let fd = upstream.fd { RawClient.send(fd, bytes) } },
             end: { if let fd = upstream.fd { shutdown(fd, Int32(SHUT_WR)) } },
             ended: { if let pair = upstream.pair { pair.directionEnded() } else { close(client) } })
    }

    /// The target-side socket, once connected (set and read on the upstream queue only).
    private final class Upstream: @unchecked Sendable {
        // Sendable: touched only on one serial queue.
        var fd: Int32?
        var pair: Pair?
    }

    /// Both sockets of one relayed connection, closed once both directions have ended (never
    /// while a delayed write may still use them).
    private final class Pair: @unchecked Sendable {
        // Sendable: `ended` is guarded by `lock`.
        let a: Int32, b: Int32
        private let lock = NSLock()
        private var ended = 0
        init(_ a: Int32, _ b: Int32) { (self.a, self.b) = (a, b) }
        func directionEnded() {
            let both = lock.withLock { ended += 1; return ended == 2 }
            if both {
                close(a)
                close(b)
            }
        }
    }

    /// Reads `from` until it ends, doing `write` with each chunk (then `end`) on `queue`, `delay`
    /// seconds after it was read, in order; `ended` once all of that is done.
    private static func copy(from: Int32, delay: Double, queue: DispatchQueue, write: @escaping @Sendable ([UInt8]) -> Void,
                             end: @escaping @Sendable () -> Void, ended: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                let chunk = n > 0 ? Array(buffer[0..<n]) : []
                queue.asyncAfter(deadline: .now() + delay) { chunk.isEmpty ? end() : write(chunk) }
                if n <= 0 { break }
            }
            queue.asyncAfter(deadline: .now() + delay + 0.1) { ended() }
        }
        thread.start()
    }
}
