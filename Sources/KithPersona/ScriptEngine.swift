import Foundation
import KithModel

/// Turns read from a file, for tests and rehearsals: one turn per line as `KIND: text`
/// (`say`, `propose`, `accept`, `decline`, `close`), `#` comments and blank lines ignored. The
/// n-th turn this node takes in a conversation is the n-th line; after the last line it closes.
public struct ScriptEngine: PersonaEngine {
    public let name = "script"
    /// The scripted turns.
    public let turns: [PersonaTurn]

    /// Parses a script.
    public init(text: String) throws {
        var turns: [PersonaTurn] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"),
                  let kind = ConversationEntry.Kind(rawValue: String(line[..<colon]).trimmingCharacters(in: .whitespaces)) else {
                throw PersonaError("script line \(number + 1): expected `say|propose|accept|decline|close: text`")
            }
            let text = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            guard text.utf8.count <= ConversationEntry.maxText else {
                throw PersonaError("script line \(number + 1): longer than \(ConversationEntry.maxText) bytes")
            }
            turns.append(PersonaTurn(kind: kind, text: text))
        }
        self.turns = turns
    }

    /// Reads a script file.
    public init(path: String) throws {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw PersonaError("cannot read the script \(path): \(error.localizedDescription)")
        }
        try self.init(text: text)
    }

    public func nextTurn(_ context: TurnContext) async throws -> PersonaTurn {
        let index = context.transcript.filter(\.mine).count
        guard index < turns.count, context.turnsLeft > 0 else {
            return PersonaTurn(kind: .close, text: "That's all from me — thanks for the chat.")
        }
        return turns[index]
    }
}
