public import KithModel

/// Where this node stands with another identity, from the connection records it holds.
public enum Relationship: String, Sendable, Hashable, Codable {
    /// No standing request either way (or the friendship was revoked).
    case none
    /// This node asked; the other side has not signed yet.
    case requested
    /// The other side asked; this node has not answered.
    case pending
    /// Both stand by a connection: friends.
    case friends
}

extension Relationship {
    /// The relationship given each side's standing record for the pair. A revocation ends the
    /// friendship; a connection signed after the other side's revocation is a new request.
    public static func from(mine: ConnectionRecord?, theirs: ConnectionRecord?) -> Relationship {
        let myConnection = mine?.kind == .connection
        let theirConnection = theirs?.kind == .connection
        switch (myConnection, theirConnection) {
        case (true, true):
            return .friends
        case (true, false):
            if let theirs, theirs.kind == .revocation, theirs.ts >= mine!.ts { return .none }
            return .requested
        case (false, true):
            if let mine, mine.kind == .revocation, mine.ts >= theirs!.ts { return .none }
            return .pending
        case (false, false):
            return .none
        }
    }
}
