/// Which inbound connections a node keeps, as a pure state machine (`Protocol/transport.md`,
/// connection budgets). The transport reports connections as they arrive, prove themselves,
/// establish and close; the machine answers whom to admit and whom to close, so that no flood
/// can lock an honest peer out:
///
/// - every limit is counted per network (an IPv4 /24, an IPv6 /64), not per address;
/// - under load, a connection that has not proven its address (a retry cookie, see
///   ``underLoad(_:)``) gets no handshake, and room is made by closing a **random** unproven
///   pending connection — never the oldest, which a flood could aim at a distant peer;
/// - strangers' sessions share what friends leave: ``Limits/reservedForFriends`` inbound sessions
///   stay for friends, and an idle stranger's session is the first to go.
struct Admission: Sendable {
    /// The budgets.
    struct Limits: Sendable {
        /// Most inbound connections, in any phase.
        var maxInbound: Int
        /// Most inbound connections from one network.
        var maxInboundPerNetwork: Int
        /// Most connections not yet established (waiting for, or in, their handshake).
        var maxPending: Int
        /// Most pending connections from one network.
        var maxPendingPerNetwork: Int
        /// Inbound sessions kept for friends: strangers may hold `maxInbound` minus these.
        var reservedForFriends: Int
        /// A stranger's session with no message (pings aside) for this long may be closed to
        /// make room, ms.
        var strangerIdleGrace: UInt64
    }

    enum Phase: Sendable {
        case pending(proven: Bool)
        case established(friend: Bool)
    }

    struct Entry: Sendable {
        var network: String
        var phase: Phase
        var lastActive: UInt64
    }

    /// Why an arrival was refused.
    enum Refusal: Error, Sendable, Equatable {
        /// The node holds all the inbound connections it takes.
        case capacity
        /// The newcomer's network holds its whole share.
        case network
        /// Every handshake slot is held by connections that proved their address.
        case pending
    }

    let limits: Limits
    private(set) var entries: [UInt64: Entry] = [:]
    private var byNetwork: [String: Int] = [:]
    private var pendingByNetwork: [String: Int] = [:]
    private(set) var pending = 0
    private var unproven = RandomSet<UInt64>()
    private var unprovenByNetwork: [String: RandomSet<UInt64>] = [:]
    private var strangers = RandomSet<UInt64>()
    private var strangersByNetwork: [String: RandomSet<UInt64>] = [:]

    init(limits: Limits) { self.limits = limits }

    /// Inbound connections held.
    var count: Int { entries.count }
    /// Established strangers' sessions held.
    var strangerSessions: Int { strangers.count }

    /// True when a newcomer from `network` must prove its address (a retry cookie) before it
    /// gets a handshake: half the pending slots are taken, or half its network's.
    func underLoad(_ network: String) -> Bool {
        pending * 2 >= limits.maxPending || pendingByNetwork[network, default: 0] * 2 >= limits.maxPendingPerNetwork
    }

    /// A connection arrived from `network`: admitted (after closing `evict`, at most two
    /// connections chosen at random) or refused, with nothing changed.
    mutating func arrive(_ id: UInt64, network: String, proven: Bool = false, now: UInt64,
                         random: (Int) -> Int) -> Result<[UInt64], Refusal> {
        var victims: [UInt64] = []
        func over() -> (network: Bool, networkPending: Bool, pending: Bool, total: Bool) {
            let net = victims.filter { entries[$0]?.network == network }
            let pendingVictims = victims.filter { if case .pending = entries[$0]?.phase { true } else { false } }
            let netPending = pendingVictims.filter { entries[$0]?.network == network }
            return (byNetwork[network, default: 0] - net.count >= limits.maxInboundPerNetwork,
                    pendingByNetwork[network, default: 0] - netPending.count >= limits.maxPendingPerNetwork,
                    pending - pendingVictims.count >= limits.maxPending,
                    entries.count - victims.count >= limits.maxInbound)
        }
        var need = over()
        // The best victim answers every limit at once: an unproven pending connection of the
        // newcomer's own network.
        if need.network || need.networkPending || need.pending || need.total, let v = pickUnproven(in: network, random) {
            victims.append(v)
            need = over()
        }
        if need.networkPending { return .failure(.network) }
        if need.network {
            guard let v = pickIdleStranger(in: network, now: now, random, except: victims.first) else { return .failure(.network) }
            victims.append(v)
            need = over()
        }
        if need.pending {
            guard let v = unproven.randomElement(random), !victims.contains(v) else { return .failure(.pending) }
            victims.append(v)
            need = over()
        }
        if need.total {
            guard let v = unproven.randomElement(random) ?? pickIdleStranger(in: nil, now: now, random), !victims.contains(v) else {
                return .failure(.capacity)
            }
            victims.append(v)
        }
        for v in victims { remove(v) }
        insert(id, Entry(network: network, phase: .pending(proven: proven), lastActive: now))
        return .success(victims)
    }

    /// A pending connection showed a valid cookie: only proven connections of its own network
    /// can take its place now.
    mutating func proven(_ id: UInt64) {
        guard var entry = entries[id], case .pending(false) = entry.phase else { return }
        removeIndexes(id, entry)
        entry.phase = .pending(proven: true)
        insert(id, entry)
    }

    /// A pending connection completed its handshake. A stranger beyond its share closes a random
    /// idle stranger, or is itself refused (`[id]` back).
    mutating func established(_ id: UInt64, friend: Bool, now: UInt64, random: (Int) -> Int) -> [UInt64] {
        guard var entry = entries[id] else { return [] }
        removeIndexes(id, entry)
        entry.phase = .established(friend: friend)
        entry.lastActive = now
        insert(id, entry)
        guard !friend, strangers.count > limits.maxInbound - limits.reservedForFriends else { return [] }
        if let victim = pickIdleStranger(in: nil, now: now, random, except: id) {
            remove(victim)
            return [victim]
        }
        remove(id)
        return [id]
    }

    /// The connection sent an application message (pings aside).
    mutating func active(_ id: UInt64, now: UInt64) {
        entries[id]?.lastActive = now
    }

    /// The connection closed.
    mutating func closed(_ id: UInt64) { remove(id) }

    /// Whether `id` is an established stranger's session idle for `limit` ms at `now`.
    func isIdleStranger(_ id: UInt64, now: UInt64, limit: UInt64) -> Bool {
        guard let entry = entries[id], case .established(false) = entry.phase else { return false }
        return now >= entry.lastActive + limit
    }

    // MARK: - Bookkeeping

    private func pickUnproven(in network: String, _ random: (Int) -> Int) -> UInt64? {
        unprovenByNetwork[network]?.randomElement(random)
    }

    /// A random idle stranger (a few random tries, so the pick stays cheap under a flood).
    private func pickIdleStranger(in network: String?, now: UInt64, _ random: (Int) -> Int, except: UInt64? = nil) -> UInt64? {
        let pool = network.map { strangersByNetwork[$0] ?? RandomSet() } ?? strangers
        for _ in 0..<8 {
            guard let id = pool.randomElement(random), id != except else { continue }
            if let entry = entries[id], now >= entry.lastActive + limits.strangerIdleGrace { return id }
        }
        return nil
    }

    private mutating func insert(_ id: UInt64, _ entry: Entry) {
        if entries[id] == nil { byNetwork[entry.network, default: 0] += 1 }
        entries[id] = entry
        switch entry.phase {
        case .pending(let proven):
            pending += 1
            pendingByNetwork[entry.network, default: 0] += 1
            if !proven {
                unproven.insert(id)
                unprovenByNetwork[entry.network, default: RandomSet()].insert(id)
            }
        case .established(let friend):
            if !friend {
                strangers.insert(id)
                strangersByNetwork[entry.network, default: RandomSet()].insert(id)
            }
        }
    }

    /// Removes `entry`'s phase from the indexes (the entry itself stays).
    private mutating func removeIndexes(_ id: UInt64, _ entry: Entry) {
        switch entry.phase {
        case .pending(let proven):
            pending -= 1
            Self.decrement(&pendingByNetwork, entry.network)
            if !proven {
                unproven.remove(id)
                unprovenByNetwork[entry.network]?.remove(id)
                if unprovenByNetwork[entry.network]?.isEmpty == true { unprovenByNetwork[entry.network] = nil }
            }
        case .established(let friend):
            if !friend {
                strangers.remove(id)
                strangersByNetwork[entry.network]?.remove(id)
                if strangersByNetwork[entry.network]?.isEmpty == true { strangersByNetwork[entry.network] = nil }
            }
        }
    }

    private mutating func remove(_ id: UInt64) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        removeIndexes(id, entry)
        Self.decrement(&byNetwork, entry.network)
    }

    private static func decrement(_ counts: inout [String: Int], _ key: String) {
        let left = counts[key, default: 0] - 1
        counts[key] = left > 0 ? left : nil
    }
}
