import KithModel

/// What mutual friends said about where friends of friends can be reached, per friend who said
/// it, bounded and expiring: the addresses are only candidates until a handshake there proves
/// the key, and one friend's answer never replaces another's.
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
    /// Most answers kept, and most friends' answers kept about one person.
    static let capacity = 1_024
    static let perPeer = 4

    private(set) var answers: [Identity: [Identity: Answer]] = [:]
    private var count: Int { answers.values.reduce(0) { $0 + $1.count } }

    /// Records `answer` about `peer`, dropping expired ones and, when full, the oldest.
    mutating func learned(_ peer: Identity, _ answer: Answer) {
        answers = answers.compactMapValues { byVia in
            let fresh = byVia.filter { answer.at < $0.value.at + Self.lifetime }
            return fresh.isEmpty ? nil : fresh
        }
        var byVia = answers[peer] ?? [:]
        if byVia[answer.via] == nil, byVia.count >= Self.perPeer, let oldest = byVia.min(by: { $0.value.at < $1.value.at })?.key {
            byVia[oldest] = nil
        }
        byVia[answer.via] = answer
        answers[peer] = byVia
        while count > Self.capacity, let oldest = answers.flatMap({ p in p.value.map { (p.key, $0.key, $0.value.at) } }).min(by: { $0.2 < $1.2 }) {
            answers[oldest.0]?[oldest.1] = nil
            if answers[oldest.0]?.isEmpty == true { answers[oldest.0] = nil }
        }
    }

    /// The answer `via` gave about `peer` at or after `since`.
    func answer(about peer: Identity, via: Identity, since: UInt64) -> Answer? {
        answers[peer]?[via].flatMap { $0.at >= since ? $0 : nil }
    }

    /// A friend who agreed to pass on where `peer` is, if any.
    func introducer(of peer: Identity) -> Identity? {
        answers[peer]?.values.filter(\.ok).max { $0.at < $1.at }?.via
    }

    /// The addresses mutual friends passed on for `peer` that are still fresh at `now`.
    func endpoints(of peer: Identity, now: UInt64) -> [String] {
        var seen = Set<String>()
        return (answers[peer].map { Array($0.values) } ?? []).filter { $0.ok && now < $0.at + Self.lifetime }.sorted { $0.at > $1.at }
            .flatMap(\.endpoints).filter { seen.insert($0).inserted }
    }
}
