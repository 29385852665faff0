import Foundation
import Glibc
public import KithModel
public import KithProtocol

/// Why a raw client call failed.
public struct RawClientError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A raw TCP client for hostile input.
public enum RawClient {
    /// Connects to 127.0.0.1:`port`, from `source` (any 127.x.y.z address) when given.
    public static func connect(port: Int, from source: String? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let source, !bind(fd, to: source) { close(fd); throw RawClientError("cannot bind \(source)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw RawClientError("cannot connect to port \(port)") }
        var tv = timeval(tv_sec: 8, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Binds socket `fd` to `source` (an IPv4 address such as 127.0.0.2, any port), so traffic
    /// comes from that address; false when the bind fails.
    public static func bind(_ fd: Int32, to source: String) -> Bool {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        return withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A listening TCP socket on `host` at a free port.
    public static func listen(on host: String = "127.0.0.1") throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, to: host), Glibc.listen(fd, 64) == 0 else {
            close(fd)
            throw RawClientError("cannot listen on \(host)")
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: local.sin_port)))
    }

    public static func send(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Drives a real initiator session over the raw socket until the hello exchange is done.
    public static func establish(_ fd: Int32, credentials: SessionCredentials, expected: Identity) -> Bool {
        establishRecording(fd, credentials: credentials, expected: expected) != nil
    }

    /// Like ``establish(_:credentials:expected:)``; returns every chunk of bytes it sent, in
    /// order (nil when the session failed), for replay attacks.
    public static func establishRecording(_ fd: Int32, credentials: SessionCredentials, expected: Identity) -> [[UInt8]]? {
        var sent: [[UInt8]] = []
        func send(_ fd: Int32, _ bytes: [UInt8]) {
            sent.append(bytes)
            RawClient.send(fd, bytes)
        }
        var session = SecureSession(role: .initiator(expected: expected), credentials: credentials)
        for case .send(let bytes) in session.start() { send(fd, bytes) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            var established = false
            for event in session.receive(Array(buffer[0..<n]), now: 2_000) {
                if case .send(let bytes) = event { send(fd, bytes) }
                if case .established = event { established = true }
            }
            if established { return sent }
        }
    }

    /// Drives a real initiator session over the raw socket until the hello exchange is done and
    /// returns it (to send messages with), or nil when it failed. Handles a retry frame by
    /// reporting nil (a raw client does not come back).
    public static func session(_ fd: Int32, credentials: SessionCredentials, expected: Identity) -> SecureSession? {
        var session = SecureSession(role: .initiator(expected: expected), credentials: credentials)
        for case .send(let bytes) in session.start() { send(fd, bytes) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            var established = false
            for event in session.receive(Array(buffer[0..<n]), now: WallClock.system.now()) {
                if case .send(let bytes) = event { send(fd, bytes) }
                if case .established = event { established = true }
                if case .failed = event { return nil }
            }
            if established { return session }
        }
    }

    /// True when the server closed the connection (read returns 0 or an error other than a timeout).
    public static func waitForClose(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
    }
}


