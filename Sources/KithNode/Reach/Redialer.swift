import KithModel

/// When to dial peers the node wants sessions with (friends, open requests, partners of
/// unfinished conversations): at once, then with a backoff doubling up to ``maxBackoff``.
struct Redialer {
    private var schedule: [Identity: (due: UInt64, backoff: UInt64)] = [:]
    /// The first retry interval, ms.
    let initialBackoff: UInt64
    /// The longest interval, ms.
    static let maxBackoff: UInt64 = 300_000

    init(initialBackoff: UInt64) { self.initialBackoff = initialBackoff }

    /// Of `wanted` (peers without a session), those due now; each one's next try moves back.
    mutating func due(_ wanted: some Sequence<Identity>, now: UInt64) -> [Identity] {
        var out: [Identity] = []
        for peer in wanted {
            let entry = schedule[peer] ?? (due: now, backoff: initialBackoff)
            guard entry.due <= now else { continue }
            schedule[peer] = (due: now + entry.backoff, backoff: min(entry.backoff * 2, Self.maxBackoff))
            out.append(peer)
        }
        return out.sorted()
    }

    /// A session opened: the next loss starts from the first interval again.
    mutating func connected(_ peer: Identity) {
        schedule[peer] = nil
    }

    /// Forgets peers no longer wanted.
    mutating func keep(only wanted: Set<Identity>) {
        schedule = schedule.filter { wanted.contains($0.key) }
    }
}
