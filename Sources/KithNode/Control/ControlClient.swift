import Foundation
import NIOCore
import NIOPosix

/// One connection to a running node's control socket, speaking ``ControlCommand`` and
/// ``ControlLine`` JSON lines. Async throughout: nothing blocks a thread while waiting. Open one
/// with ``open(socket:_:)``; it closes when the body returns.
public struct ControlConnection: ~Copyable {
    private var lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    /// Connects to the node whose control socket is `path` and runs `body` with the connection.
    /// - Throws: ``NodeError`` when no node runs there, and whatever `body` throws.
    public static func open<R: Sendable>(socket path: String, _ body: (inout ControlConnection) async throws -> R) async throws -> R {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder(maxLength: 16 << 20)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        } catch {
            throw NodeError("no node is running for this home (\(path)): start it with `kith run` first")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = ControlConnection(lines: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    /// Sends one value as a JSON line.
    public func send(_ value: some Encodable) async throws(NodeError) {
        do { try await outbound.write(ByteBuffer(bytes: ControlJSON.line(value))) } catch {
            throw NodeError("the node closed the control connection")
        }
    }

    /// Sends `text` and a newline as they are (how tests play a hostile client).
    public func send(line text: String) async throws(NodeError) {
        do { try await outbound.write(ByteBuffer(bytes: Array(text.utf8) + [0x0a])) } catch {
            throw NodeError("the node closed the control connection")
        }
    }

    /// The next line from the node decoded as `Line`, nil when the node closed the connection.
    public mutating func next<Line: Decodable>(_ type: Line.Type = Line.self) async throws(NodeError) -> Line? {
        let line: ByteBuffer?
        do { line = try await lines.next() } catch { throw NodeError("the node's answer is too large or the connection failed") }
        guard let line else { return nil }
        do { return try JSONDecoder().decode(Line.self, from: Data(line.readableBytesView)) } catch {
            throw NodeError("malformed answer from the node: \(error)")
        }
    }
}

/// The CLI side of the control socket: one command, its events, its answer.
public enum ControlClient {
    /// Sends `command` to the node at `socket` and returns its result as `T`; the events of a
    /// streaming command go to `onEvent` first.
    /// - Throws: ``NodeError`` when no node runs there, the node reports an error, or no answer
    ///   comes within `timeout`.
    public static func call<T: Codable & Sendable>(socket: String, _ command: ControlCommand, as type: T.Type,
                                                   timeout: Duration = .seconds(60),
                                                   onEvent: @escaping @Sendable (TalkEvent) -> Void = { _ in }) async throws(NodeError) -> T {
        let result = await withTaskGroup(of: Result<T, NodeError>?.self) { group in
            group.addTask {
                do {
                    return try await ControlConnection.open(socket: socket) { connection in
                        try await connection.send(command)
                        while let line = try await connection.next(ControlLine<T>.self) {
                            switch line {
                            case .event(let event): onEvent(event)
                            case .ok(let value): return .success(value)
                            case .error(let message): return .failure(NodeError(message))
                            }
                        }
                        return .failure(NodeError("the node closed the control connection without an answer"))
                    }
                } catch {
                    return .failure(error as? NodeError ?? NodeError("\(error)"))
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(NodeError("the node did not answer within \(timeout)"))
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(NodeError("the node did not answer"))
        }
        return try result.get()
    }

    /// True when a node answers `status` on `socket` (so a second node must not start there).
    public static func isServing(socket: String) async -> Bool {
        (try? await call(socket: socket, .status, as: StatusReport.self, timeout: .seconds(2))) != nil
    }
}
