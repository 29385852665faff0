public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One connection to a running node's control socket: JSON lines both ways.
public final class ControlConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to the node at `path`; `timeout` bounds every read.
    public init(socket path: String, timeout: Int = 60) throws {
        fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NodeError("cannot create a socket") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw NodeError("control socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw NodeError("no node is running for this home (\(path)): start it with `kith run` first")
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends one JSON value as a line.
    public func send(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = [UInt8](try encoder.encode(value)) + [0x0a]
        var sent = 0
        while sent < line.count {
            let n = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw NodeError("the node closed the control connection") }
            sent += n
        }
    }

    /// The next line as a JSON object.
    public func readObject() throws -> [String: Any] {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = Data(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else {
                    throw NodeError("malformed answer from the node")
                }
                return object
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { throw NodeError("the node closed the control connection without an answer") }
            guard n > 0 else { throw NodeError("the node did not answer in time") }
            buffer += chunk[0..<n]
            guard buffer.count < 16 << 20 else { throw NodeError("the node's answer is too large") }
        }
    }
}

/// The CLI side of the control socket: sends one request, returns the `result` JSON.
public enum ControlClient {
    /// Sends `request` to the node at `socket` and returns the raw JSON of `result`; lines of the
    /// form `{"event": …}` before it go to `onEvent`.
    /// - Throws: ``NodeError`` when no node runs there or the node reports an error.
    public static func call(socket path: String, _ request: ControlRequest, timeout: Int = 60,
                            onEvent: ((Data) -> Void)? = nil) throws -> Data {
        let connection = try ControlConnection(socket: path, timeout: timeout)
        try connection.send(request)
        while true {
            let object = try connection.readObject()
            if let event = object["event"] {
                onEvent?(try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes]))
                continue
            }
            guard object["ok"] as? Bool == true else { throw NodeError((object["error"] as? String) ?? "the node reported an error") }
            return try JSONSerialization.data(withJSONObject: object["result"] ?? NSNull(), options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        }
    }

    /// Decodes the result of ``call(socket:_:timeout:onEvent:)``.
    public static func call<T: Decodable>(socket path: String, _ request: ControlRequest, as type: T.Type, timeout: Int = 60) throws -> T {
        let data = try call(socket: path, request, timeout: timeout)
        return try JSONDecoder().decode(T.self, from: data)
    }
}
