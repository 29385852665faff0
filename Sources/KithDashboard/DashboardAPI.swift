import Foundation
import HTTPTypes
import Hummingbird
import KithCrypto
import KithModel
import KithNode
import KithPersona
import NIOConcurrencyHelpers

/// The JSON API: `POST /api/NAME` with a command's fields as the body answers exactly as the
/// control socket does (`Protocol/dashboard.md`); `talk` and `chat` stream their lines
/// (NDJSON); the page's session, the person's chat turns, downloads and the change feed.
struct DashboardAPI: Sendable {
    let runtime: NodeRuntime
    let token: DashboardToken
    let codes: SignInCodes
    let chats: ChatRooms
    let feed: ChangeFeed

    /// Largest request body (an identity with its memories fits in 1 MiB).
    static let maxBody = 1 << 20
    /// How often a stream writes something, so a page that went away is noticed.
    static let heartbeat: Duration = .seconds(5)

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in Self.asset(WebAssets.index, "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in Self.asset(WebAssets.script, "text/javascript; charset=utf-8") }
        router.get("/app.css") { _, _ in Self.asset(WebAssets.style, "text/css; charset=utf-8") }
        // The page trades the single-use code in its address (#code=…) for the token once.
        router.post("/api/sign-in") { request, _ in
            struct SignIn: Decodable { var code: String }
            let body = try await Self.body(request, limit: 1024)
            guard let asked = try? JSONDecoder().decode(SignIn.self, from: Data(buffer: body)), codes.redeem(asked.code)
            else { return Self.error(.unauthorized, "this sign-in address was used or is older than a minute: run `kith dashboard` again") }
            return Self.json(status: .ok, #"{"ok":true,"result":"# + Self.jsonString(token.text) + "}")
        }
        router.get("/api/events") { _, _ in feed.response() }
        router.get("/api/export") { request, _ in try await export(request) }
        router.post("/api/export") { request, _ in try await command("export", request) }
        router.post("/api/say") { request, _ in try await say(request) }
        router.post("/api/{cmd}") { request, context in try await command(try context.parameters.require("cmd"), request) }
    }

    /// A command by name: the body's fields plus `cmd`.
    private func command(_ name: String, _ request: Request) async throws -> Response {
        guard name.utf8.count <= 32, name.allSatisfy({ $0.isLetter || $0 == "-" }) else { return Self.error(.notFound, "no command \(name)") }
        let body = try await Self.body(request)
        var fields: [String: Any] = [:]
        if body.readableBytes > 0 {
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
                return Self.error(.badRequest, "the body must be a JSON object of the command's fields")
            }
            fields = object
        }
        fields["cmd"] = name
        let command: ControlCommand
        do {
            command = try JSONDecoder().decode(ControlCommand.self, from: try JSONSerialization.data(withJSONObject: fields))
        } catch {
            return Self.error(.badRequest, Self.describe(error, name: name))
        }
        guard command.streams else {
            let line = await runtime.answer(command)
            let ok = line.starts(with: Array(#"{"ok":true"#.utf8))
            return Response(status: ok ? .ok : .unprocessableContent, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: line)))
        }
        return await stream(command, request)
    }

    /// `talk` and `chat`: one JSON line per event, then the answer, as on the control socket.
    /// A chat's first line is `{"chat": ID}`; `POST /api/say` with that id gives the person's turns.
    private func stream(_ command: ControlCommand, _ request: Request) async -> Response {
        let isChat: Bool
        if case .chat = command { isChat = true } else { isChat = false }
        guard let room = chats.open(human: isChat) else {
            return Self.error(.tooManyRequests, "too many conversations open from the dashboard (at most \(ChatRooms.limit)); wait for one to end")
        }
        let chatID = room.id, human = room.turns
        let events = await runtime.events(of: command, human: human)
        let chats = self.chats
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: .init { writer in
            defer { chats.close(chatID) }
            if human != nil { try await writer.write(ByteBuffer(string: #"{"chat":"\#(chatID)"}"# + "\n")) }
            // A blank line every few seconds: when the page went away (tab closed, reloaded) the
            // write fails, the person's side ends and the conversation closes with a signed
            // close instead of waiting for a turn for ever.
            let (lines, sink) = AsyncStream.makeStream(of: TalkEvent?.self)
            let pump = Task {
                for await event in events { sink.yield(event) }
                sink.finish()
            }
            let beat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.heartbeat)
                    sink.yield(nil)
                }
            }
            defer {
                pump.cancel()
                beat.cancel()
            }
            for await line in lines {
                if let event = line {
                    try await writer.write(ByteBuffer(bytes: Self.line(["event": event])))
                } else {
                    try await writer.write(ByteBuffer(string: "\n"))
                }
            }
            try await writer.write(ByteBuffer(string: #"{"ok":true,"result":"done"}"# + "\n"))
            try await writer.finish(nil)
        })
    }

    /// `POST /api/say {"chat": ID, "say": TEXT}`: the person's next turn in an open chat.
    private func say(_ request: Request) async throws -> Response {
        struct Said: Decodable { var chat: String; var say: String }
        let body = try await Self.body(request, limit: 64 << 10)
        guard let said = try? JSONDecoder().decode(Said.self, from: Data(buffer: body)) else {
            return Self.error(.badRequest, "say needs {\"chat\": ID, \"say\": TEXT}")
        }
        guard let turns = chats.turns(said.chat) else { return Self.error(.notFound, "no open chat \(said.chat)") }
        await turns.push(String(said.say.prefix(4000)))
        return Self.json(status: .ok, #"{"ok":true,"result":"sent"}"#)
    }

    /// `GET /api/export?conv=ID&format=kithlog|md`: the file, as a download.
    private func export(_ request: Request) async throws -> Response {
        let conv = request.uri.queryParameters.get("conv") ?? ""
        let format = request.uri.queryParameters.get("format") ?? "kithlog"
        do {
            let file = try await runtime.exportConversation(conv, format: format)
            return Response(status: .ok, headers: [.contentType: file.mediaType + "; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"\(file.filename)\""],
                            body: .init(byteBuffer: ByteBuffer(string: file.text)))
        } catch {
            return Self.error(.notFound, "\(error)")
        }
    }

    // MARK: - Helpers

    static func body(_ request: Request, limit: Int = maxBody) async throws -> ByteBuffer {
        do { return try await request.body.collect(upTo: limit) } catch {
            throw HTTPError(.contentTooLarge, message: "the body is larger than \(limit) bytes")
        }
    }

    static func asset(_ bytes: [UInt8], _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status: status, #"{"ok":false,"error":"# + jsonString(message) + "}")
    }

    static func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    static func line(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8]((try? encoder.encode(value)) ?? Data("{}".utf8)) + [0x0a]
    }

    static func describe(_ error: any Error, name: String) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): return context.debugDescription
        case DecodingError.keyNotFound(let key, _): return "\(name) needs a \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context): return "a field has the wrong type: \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "malformed request"
        }
    }
}

/// The conversations the dashboard's pages hold open (`talk` and `chat` streams): each chat id
/// gives the person's turns to one `chat`. Bounded: each runs the AI engine and dials a peer.
final class ChatRooms: Sendable {
    /// Most conversations open from the dashboard at once.
    static let limit = 8
    private let rooms = NIOLockedValueBox<[String: HumanTurns?]>([:])

    /// A room; `human` gives it the person's turns (a chat).
    func open(human: Bool) -> (id: String, turns: HumanTurns?)? {
        let id = Hex.encode(Random.bytes(16))
        let turns = human ? HumanTurns() : nil
        return rooms.withLockedValue { rooms in
            guard rooms.count < Self.limit else { return nil }
            rooms[id] = .some(turns)
            return (id, turns)
        }
    }

    func turns(_ id: String) -> HumanTurns? { rooms.withLockedValue { $0[id] ?? nil } }

    func close(_ id: String) {
        let turns = rooms.withLockedValue { $0.removeValue(forKey: id) }
        if let turns = turns ?? nil { Task { await turns.finish() } }
    }

    /// Ends every chat (the person's side closes; each conversation ends with a signed close).
    func closeAll() {
        let all = rooms.withLockedValue { rooms in
            defer { rooms.removeAll() }
            return rooms.values.compactMap { $0 }
        }
        for turns in all { Task { await turns.finish() } }
    }

}
