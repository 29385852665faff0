import KithModel

/// Where this node stands with another identity, from the connection records it holds.
public enum Relationship: String, Sendable, Hashable, Codable {
    /// No records.
    case none
    /// This node asked; the other side has not signed yet.
    case requested
    /// The other side asked; this node has not answered.
    case pending
    /// Both signed: friends.
    case friends
}

extension Relationship {
    /// The relationship between `me` and `other` given which of the two signed a record for the pair.
    public static func from(mine: Bool, theirs: Bool) -> Relationship {
        switch (mine, theirs) {
        case (true, true): return .friends
        case (true, false): return .requested
        case (false, true): return .pending
        case (false, false): return .none
        }
    }
}
