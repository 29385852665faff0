import KithModel

/// What mutual friends said about where friends of friends can be reached, bounded and
/// expiring: the addresses are only candidates until a handshake there proves the key.
struct IntroducedAddresses {
    /// One answer from a mutual friend.
    struct Answer {
        var ok: Bool
        var endpoints: [String]
        var at: UInt64
        var via: Identity
    }

    /// How long an answer is kept: a day (a conversation it started may need to redial).
    static let lifetime: UInt64 = 86_400_000
    /// Most answers kept.
    static let capacity = 1_024

    private(set) var answers: [Identity: Answer] = [:]

    /// Records an answer about `peer`, dropping expired ones and, when full, the oldest.
    mutating func learned(_ peer: Identity, _ answer: Answer) {
        answers = answers.filter { answer.at < $0.value.at + Self.lifetime }
        if answers[peer] == nil, answers.count >= Self.capacity, let oldest = answers.min(by: { $0.value.at < $1.value.at })?.key {
            answers[oldest] = nil
        }
        answers[peer] = answer
    }

    /// The answer about `peer` given at or after `since`.
    func answer(about peer: Identity, since: UInt64) -> Answer? {
        answers[peer].flatMap { $0.at >= since ? $0 : nil }
    }

    /// The addresses a mutual friend passed on for `peer` that are still fresh at `now`.
    func endpoints(of peer: Identity, now: UInt64) -> [String] {
        guard let a = answers[peer], a.ok, now < a.at + Self.lifetime else { return [] }
        return a.endpoints
    }
}
