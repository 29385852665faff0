import Foundation
import KithModel
import KithPersona
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Serves ``ControlRequest``s on a Unix domain socket inside the node's 0700 home folder: one
/// JSON line in, one JSON line (`{"ok": true, "result": …}` or `{"ok": false, "error": "…"}`) out.
final class ControlServer: Sendable {
    let path: String
    let runtime: NodeRuntime
    let group: any EventLoopGroup
    let logger: Logger
    private let channel = NIOLockedValueBox<(any Channel)?>(nil)

    init(path: String, runtime: NodeRuntime, group: any EventLoopGroup, logger: Logger) {
        self.path = path
        self.runtime = runtime
        self.group = group
        self.logger = logger
    }

    func start() async throws {
        if FileManager.default.fileExists(atPath: path) {
            if (try? ControlClient.call(socket: path, ControlRequest(cmd: "status"), timeout: 2)) != nil {
                throw NodeError("a node is already running in this home (\(path)); stop it first or use another --home")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        let runtime = self.runtime
        let bootstrap = ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlHandler(runtime: runtime))
                }
            }
        let bound: any Channel
        do {
            bound = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        } catch {
            throw NodeError("cannot open the control socket \(path): \(error)")
        }
        chmod(path, 0o600)
        channel.withLockedValue { $0 = bound }
    }

    func stop() async {
        try? await channel.withLockedValue { $0 }?.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Reads one request line (at most 64 KiB), answers it, closes.
private final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var buffer: [UInt8] = []
    private var answered = false
    /// For `chat`: where the person's typed lines go.
    private var human: HumanTurns?
    private let runtime: NodeRuntime
    static let maxRequest = 65_536

    init(runtime: NodeRuntime) { self.runtime = runtime }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if let human {
            // A chat: every further line is the person's next turn, {"say": "…"}.
            buffer += chunk.readBytes(length: chunk.readableBytes) ?? []
            while let newline = buffer.firstIndex(of: 0x0a) {
                let line = Data(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                if let object = try? JSONSerialization.jsonObject(with: line) as? [String: String], let text = object["say"] {
                    Task { await human.push(String(text.prefix(4000))) }
                }
            }
            if buffer.count > Self.maxRequest { buffer.removeAll() }
            return
        }
        guard !answered else { return }
        buffer += chunk.readBytes(length: chunk.readableBytes) ?? []
        guard buffer.count <= Self.maxRequest else {
            answered = true
            reply(context: context, Self.failure("request too large"))
            return
        }
        guard let newline = buffer.firstIndex(of: 0x0a) else { return }
        answered = true
        let line = Array(buffer[..<newline])
        let runtime = self.runtime
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        if let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line)), request.cmd == "talk" || request.cmd == "chat" {
            // A talk streams one JSON line per event, then the final answer; a chat also reads
            // the person's turns from the same connection.
            let human = request.cmd == "chat" ? HumanTurns() : nil
            self.human = human
            buffer.removeFirst(newline + 1)
            Task {
                let stream = await ControlHandler.talk(request, runtime: runtime, human: human)
                for await event in stream {
                    let data = (try? JSONEncoder().encode(["event": event])) ?? Data()
                    eventLoop.execute {
                        let (handler, context) = bound.value
                        handler.write(context: context, [UInt8](data))
                    }
                }
                eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.reply(context: context, ControlHandler.success("done"))
                }
            }
            return
        }
        Task {
            let response = await ControlHandler.answer(line, runtime: runtime)
            eventLoop.execute {
                let (handler, context) = bound.value
                handler.reply(context: context, response)
            }
        }
    }

    private func write(context: ChannelHandlerContext, _ line: [UInt8]) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: line + [0x0a])), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let human { Task { await human.finish() } }
        context.fireChannelInactive()
    }

    static func talk(_ request: ControlRequest, runtime: NodeRuntime, human: HumanTurns?) async -> AsyncStream<TalkEvent> {
        guard let did = request.did, let peer = try? Identity(did: did) else {
            let (stream, c) = AsyncStream.makeStream(of: TalkEvent.self)
            c.yield(TalkEvent(event: "failed", conv: "", message: "talk needs a valid did"))
            c.finish()
            return stream
        }
        return await runtime.talk(to: peer, host: request.host, port: request.port, topic: request.topic ?? "getting to know each other",
                                  turns: request.turns, human: human)
    }

    private func reply(context: ChannelHandlerContext, _ response: [UInt8]) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: response + [0x0a]))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    static func failure(_ message: String) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: ["ok": false, "error": message], options: [.sortedKeys])) ?? Data()
        return [UInt8](data)
    }

    static func success(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let result = try? encoder.encode(value) else { return failure("cannot encode the result") }
        return Array(#"{"ok":true,"result":"#.utf8) + [UInt8](result) + Array("}".utf8)
    }

    static func answer(_ line: [UInt8], runtime: NodeRuntime) async -> [UInt8] {
        guard let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line)) else {
            return failure("malformed request")
        }
        func peer() throws -> Identity {
            guard let did = request.did else { throw NodeError("this command needs a did") }
            return try Identity(did: did)
        }
        do {
            switch request.cmd {
            case "status": return success(await runtime.status())
            case "invite": return success(try await runtime.invite())
            case "peers": return success(await runtime.peers())
            case "requests": return success(await runtime.requests())
            case "accept": return success(await runtime.accept(try peer()))
            case "decline": return success(await runtime.decline(try peer()))
            case "unfriend": return success(await runtime.unfriend(try peer()))
            case "reload": return success(try await runtime.reload())
            case "acks": return success(await runtime.acknowledged())
            case "suggestions": return success(await runtime.currentSuggestions())
            case "close":
                guard let conv = request.conv.flatMap(Hex.decode), conv.count == 32 else { return failure("close needs a conversation id") }
                return success(await runtime.close(conversation: conv, reason: request.text ?? "Closing: the conversation was interrupted."))
            case "connect":
                guard let host = request.host, let port = request.port, (1...65535).contains(port) else {
                    return failure("connect needs a host and a port")
                }
                return success(await runtime.connect(to: try peer(), host: host, port: port))
            default:
                return failure("unknown command '\(request.cmd)'")
            }
        } catch {
            return failure("\(error)")
        }
    }
}
