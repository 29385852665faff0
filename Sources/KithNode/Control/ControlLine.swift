import Foundation

/// One line the node writes on the control socket: an event of a streaming command, or the
/// final answer (`{"ok": true, "result": …}` / `{"ok": false, "error": "…"}`).
public enum ControlLine<Result: Codable & Sendable>: Sendable {
    /// A ``TalkEvent`` of `talk` or `chat`.
    case event(TalkEvent)
    /// The command succeeded.
    case ok(Result)
    /// The command failed; the message says what to do.
    case error(String)
}

extension ControlLine: Codable {
    private enum Key: String, CodingKey { case event, ok, result, error }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let event = try c.decodeIfPresent(TalkEvent.self, forKey: .event) {
            self = .event(event)
        } else if try c.decode(Bool.self, forKey: .ok) {
            self = .ok(try c.decode(Result.self, forKey: .result))
        } else {
            self = .error(try c.decode(String.self, forKey: .error))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .event(let event): try c.encode(event, forKey: .event)
        case .ok(let result):
            try c.encode(true, forKey: .ok)
            try c.encode(result, forKey: .result)
        case .error(let message):
            try c.encode(false, forKey: .ok)
            try c.encode(message, forKey: .error)
        }
    }
}

/// One JSON line of the control protocol.
enum ControlJSON {
    static func line(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"ok":false,"error":"cannot encode the answer"}"#.utf8)
        return [UInt8](data) + [0x0a]
    }
}

/// The person's next turn in a `chat`: `{"say": "…"}`.
public struct ChatLine: Sendable, Codable {
    /// What they typed (a leading `/propose`, `/accept`, `/decline` or `/close` picks the kind).
    public var say: String
    /// Creates a line.
    public init(say: String) { self.say = say }
}
