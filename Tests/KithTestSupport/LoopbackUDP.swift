import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain UDP socket on 127.0.0.1 for tests: it sends raw datagrams and never answers unless
/// the test reads from it (a 200 ms receive timeout keeps reads bounded).
public struct LoopbackUDP: Sendable {
    /// The socket.
    public let fd: Int32
    /// The port it is bound to.
    public let port: Int

    /// Binds a fresh socket to a free port on 127.0.0.1.
    public init() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        port = Int(UInt16(bigEndian: bound.sin_port))
    }

    /// Sends `bytes` to `127.0.0.1:port`.
    public func send(_ bytes: [UInt8], to port: Int) { Self.send(from: fd, bytes, to: port) }

    /// Sends `bytes` from the UDP socket `fd` to `127.0.0.1:port`.
    public static func send(from fd: Int32, _ bytes: [UInt8], to port: Int) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// Closes the socket.
    public func close() { _ = Glibc.close(fd) }
}
