import KithModel
import KithProtocol

/// `kith connect` callers waiting for a peer's answer to a friend request. Answers that arrive
/// before anyone waits are kept for the next waiter (the answer can overtake the bookkeeping).
struct ReplyWaiters {
    private var waiting: [Identity: [UInt64: CheckedContinuation<FriendReply?, Never>]] = [:]
    private var nextToken: UInt64 = 0
    /// Answers that arrived before anyone waited for them (nil inside: expected, not yet come).
    private var early: [Identity: FriendReply?] = [:]

    /// Call before sending a request, so an answer that comes first is kept.
    mutating func expect(from peer: Identity) {
        early[peer] = .some(nil)
    }

    /// An answer that already arrived, consumed.
    mutating func takeEarly(from peer: Identity) -> FriendReply? {
        guard case .some(.some(let reply)) = early[peer] else { return nil }
        early[peer] = nil
        return reply
    }

    /// Registers a waiter; returns its token for ``resolve(_:token:with:)``.
    mutating func add(_ continuation: CheckedContinuation<FriendReply?, Never>, for peer: Identity) -> UInt64 {
        nextToken += 1
        waiting[peer, default: [:]][nextToken] = continuation
        return nextToken
    }

    /// Reserves the token the next ``add(_:for:)`` returns (to arm its timeout first).
    var upcomingToken: UInt64 { nextToken + 1 }

    /// Resumes one waiter (a timeout: `nil`).
    mutating func resolve(_ peer: Identity, token: UInt64, with reply: FriendReply?) {
        waiting[peer]?.removeValue(forKey: token)?.resume(returning: reply)
    }

    /// `peer` answered: every waiter hears it, or the next one will.
    mutating func answer(_ peer: Identity, with reply: FriendReply) {
        guard let list = waiting.removeValue(forKey: peer) else {
            if early[peer] != nil { early[peer] = .some(reply) }
            return
        }
        early[peer] = nil
        for (_, c) in list { c.resume(returning: reply) }
    }

    /// The node stops: every waiter hears nothing.
    mutating func cancelAll() {
        for (_, list) in waiting { for (_, c) in list { c.resume(returning: nil) } }
        waiting = [:]
    }
}
