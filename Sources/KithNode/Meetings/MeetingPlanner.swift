import KithModel

/// Whether the AI should meet a friend of a friend whose manifest just arrived
/// (`policy.meet`), and what it suggested so far. Pure: the node passes in what it knows.
struct MeetingPlanner {
    /// How long before the AI considers the same person again: 7 days.
    static let cooldown: UInt64 = 7 * 86_400_000

    /// What to do about one person.
    enum Decision: Equatable {
        /// Nothing.
        case none
        /// Suggest the meeting to the person (`policy.meet: ask`).
        case suggest(shared: [String])
        /// Open a conversation on `topic` (`policy.meet: auto`).
        case meet(topic: String, shared: [String])
    }

    /// What the node knows about the candidate.
    struct Facts {
        var hops: Int?
        var isStranger: Bool
        var equivocating: Bool
        /// Conversations with them within the cool-down; nil if unknown.
        var recentConversations: Int?
        /// This node's conversations in the last 24 hours; nil if unknown.
        var conversationsToday: Int?
    }

    private var lastConsidered: [Identity: UInt64] = [:]
    private(set) var suggestions: [Identity: Suggestion] = [:]

    /// Decides about `manifest` for a person with `model`; records what it decided.
    mutating func consider(_ manifest: Manifest, model: IdentityModel, facts: Facts, now: UInt64) -> Decision {
        let policy = model.policy
        guard policy.meet != .never, facts.hops == 2, facts.isStranger, !facts.equivocating, now < manifest.exp else { return .none }
        let mine = Set(model.interests.map { $0.lowercased() })
        let shared = manifest.interests.filter { mine.contains($0.lowercased()) }
        let overlap = Double(shared.count) / Double(min(mine.count, max(1, manifest.interests.count)))
        guard shared.count >= 2 || (!mine.isEmpty && overlap >= 0.5) else { return .none }
        if let last = lastConsidered[manifest.id], now - last < Self.cooldown { return .none }
        // Unknown counts decide nothing: no meeting on a guess.
        guard let recent = facts.recentConversations, recent == 0 else { return .none }
        lastConsidered[manifest.id] = now
        switch policy.meet {
        case .ask:
            suggestions[manifest.id] = Suggestion(id: manifest.id.did, name: manifest.name, shared: shared, at: now)
            return .suggest(shared: shared)
        case .auto:
            guard let today = facts.conversationsToday, today < policy.dailyConversations else { return .none }
            return .meet(topic: shared.prefix(2).joined(separator: " and "), shared: shared)
        case .never:
            return .none
        }
    }
}
