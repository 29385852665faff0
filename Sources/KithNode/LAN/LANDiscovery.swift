import KithModel

/// Nodes seen announcing themselves on the LAN (`kith run --lan`), newest kept, at most
/// ``capacity`` of them.
struct LANDiscovery {
    struct Sighting {
        var endpoint: String
        var seq: UInt64
        var at: UInt64
    }

    /// Most nodes remembered; the oldest sighting goes first.
    static let capacity = 256
    /// A node not heard from for this long is forgotten: 10 minutes (announces come every 5 s).
    static let lifetime: UInt64 = 600_000

    private(set) var seen: [Identity: Sighting] = [:]

    /// Records an announce; true when the node was not known before.
    mutating func saw(_ peer: Identity, endpoint: String, seq: UInt64, at now: UInt64) -> Bool {
        if seen.count >= Self.capacity { seen = seen.filter { now < $0.value.at + Self.lifetime } }
        let isNew = seen[peer] == nil
        if isNew, seen.count >= Self.capacity, let oldest = seen.min(by: { $0.value.at < $1.value.at })?.key {
            seen[oldest] = nil
        }
        seen[peer] = Sighting(endpoint: endpoint, seq: seq, at: now)
        return isNew
    }

    /// Where `peer` was last seen.
    func endpoint(of peer: Identity) -> String? { seen[peer]?.endpoint }
}
