import Foundation
import KithModel

/// The person speaks for themselves (`kith chat`): each turn is a line they typed, delivered
/// through ``HumanTurns``. `/propose …`, `/accept …`, `/decline …` and `/close …` choose the
/// entry kind; an empty stream (the person left) closes.
public struct HumanEngine: PersonaEngine {
    public let name = "human"
    /// Where the typed lines come from.
    public let turns: HumanTurns

    /// Creates the engine.
    public init(turns: HumanTurns) { self.turns = turns }

    public var speaksForItself: Bool { true }

    public func nextTurn(_ context: TurnContext) async throws -> PersonaTurn {
        guard let line = await turns.next() else { return PersonaTurn(kind: .close, text: "(left the chat)") }
        for kind in [ConversationEntry.Kind.propose, .accept, .decline, .close] {
            let prefix = "/\(kind.rawValue)"
            if line.hasPrefix(prefix) {
                let rest = line.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
                return PersonaTurn(kind: kind, text: rest.isEmpty ? kind.rawValue : rest)
            }
        }
        return PersonaTurn(kind: .say, text: line)
    }
}

/// A queue of typed lines for a ``HumanEngine``.
public actor HumanTurns {
    private var lines: [String] = []
    private var waiting: CheckedContinuation<String?, Never>?
    private var finished = false

    /// An empty queue.
    public init() {}

    /// Most lines waiting to be taken; more are dropped (the person types faster than turns come).
    public static let limit = 16

    /// Adds a typed line (dropped once finished, or when ``limit`` lines already wait).
    public func push(_ line: String) {
        guard !finished else { return }
        if let waiting {
            self.waiting = nil
            waiting.resume(returning: line)
        } else if lines.count < Self.limit {
            lines.append(line)
        }
    }

    /// No more lines: the person left.
    public func finish() {
        finished = true
        waiting?.resume(returning: nil)
        waiting = nil
    }

    /// The next line, waiting for it; nil once finished.
    public func next() async -> String? {
        if !lines.isEmpty { return lines.removeFirst() }
        if finished { return nil }
        return await withCheckedContinuation { waiting = $0 }
    }
}

extension PersonaEngine {
    /// True for engines through which the person speaks directly (no disclosure guard applies:
    /// people decide what they say themselves).
    public var speaksForItself: Bool { false }
}
