import Foundation
import KithDHT
import KithModel
import KithPersona
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Serves ``ControlCommand``s on a Unix domain socket inside the node's 0700 home folder: one
/// JSON line in, ``ControlLine``s out (events for `talk` and `chat`, then one answer).
final class ControlServer: Sendable {
    let path: String
    let runtime: NodeRuntime
    let group: any EventLoopGroup
    let logger: Logger
    private let server = NIOLockedValueBox<NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>?>(nil)
    private let serving = NIOLockedValueBox<Task<Void, Never>?>(nil)

    /// Longest request line, in bytes.
    static let maxLine = 65_536

    init(path: String, runtime: NodeRuntime, group: any EventLoopGroup, logger: Logger) {
        self.path = path
        self.runtime = runtime
        self.group = group
        self.logger = logger
    }

    func start() async throws {
        if FileManager.default.fileExists(atPath: path) {
            if await ControlClient.isServing(socket: path) {
                throw NodeError("a node is already running in this home (\(path)); stop it first or use another --home")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        let bound: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            bound = try await ServerBootstrap(group: group)
                .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder(maxLength: Self.maxLine)))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw NodeError("cannot open the control socket \(path): \(error)")
        }
        chmod(path, 0o600)
        server.withLockedValue { $0 = bound }
        let runtime = self.runtime
        serving.withLockedValue {
            $0 = Task {
                try? await bound.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { tasks in
                        for try await connection in connections {
                            tasks.addTask { await ControlSession(runtime: runtime).serve(connection) }
                        }
                    }
                }
            }
        }
    }

    /// Closes the socket and ends every client session (a `talk` stream among them) before the
    /// node's event loops shut down.
    func stop() async {
        try? await server.withLockedValue { $0 }?.channel.close()
        let task = serving.withLockedValue { $0 }
        task?.cancel()
        await task?.value
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// One client connection: reads the command line, answers it, closes.
private struct ControlSession {
    let runtime: NodeRuntime

    func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            let first: ByteBuffer?
            do { first = try await lines.next() } catch {
                return try await outbound.write(Self.buffer(ControlLine<String>.error("request too large (at most \(ControlServer.maxLine) bytes)")))
            }
            guard let first else { return }
            let command: ControlCommand
            do { command = try JSONDecoder().decode(ControlCommand.self, from: Data(first.readableBytesView)) } catch {
                return try await outbound.write(Self.buffer(ControlLine<String>.error(Self.describe(error))))
            }
            guard command.streams else {
                return try await outbound.write(ByteBuffer(bytes: await runtime.answer(command)))
            }
            guard case .chat = command else {
                for await event in await runtime.events(of: command, human: nil) {
                    try await outbound.write(Self.buffer(ControlLine<String>.event(event)))
                }
                return try await outbound.write(Self.buffer(ControlLine<String>.ok("done")))
            }
            // A chat: events go out while every further line is the person's next turn.
            let human = HumanTurns()
            let events = await runtime.events(of: command, human: human)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    for await event in events { try await outbound.write(Self.buffer(ControlLine<String>.event(event))) }
                    try await outbound.write(Self.buffer(ControlLine<String>.ok("done")))
                }
                do {
                    while let line = try await lines.next() {
                        if let said = try? JSONDecoder().decode(ChatLine.self, from: Data(line.readableBytesView)) {
                            await human.push(String(said.say.prefix(4000)))
                        }
                    }
                } catch {
                    // A broken or oversized line ends the person's input; the conversation closes.
                }
                await human.finish()
                try await tasks.waitForAll()
            }
        }
    }

    private static func buffer(_ line: ControlLine<String>) -> ByteBuffer {
        ByteBuffer(bytes: ControlJSON.line(line))
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        if case DecodingError.keyNotFound(let key, _) = error { return "this command needs a \(key.stringValue)" }
        if case DecodingError.typeMismatch(_, let context) = error { return "a field has the wrong type: \(context.codingPath.map(\.stringValue).joined(separator: "."))" }
        return "malformed request"
    }
}

/// Splits the control stream into lines (without the newline); a line longer than
/// `maxLength` is an error that ends the connection.
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxLength: Int

    struct TooLong: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: 0x0a) else {
            if buffer.readableBytes > maxLength { throw TooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        guard length <= maxLength, let line = buffer.readSlice(length: length) else { throw TooLong() }
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }
}
