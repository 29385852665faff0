import Foundation
public import KithModel
public import KithProtocol
public import KithStore

/// One row of `kith people`.
public struct PersonReport: Sendable, Codable {
    /// The identity.
    public var id: String
    /// Name from the manifest.
    public var name: String
    /// Interests from the manifest.
    public var interests: [String]
    /// Bio from the manifest.
    public var bio: String = ""
    /// For a friend of a friend: the friends through whom this node knows them (who can
    /// introduce them).
    public var via: [String] = []
    /// Hops from this node in the known friend graph (1 = friend), nil when not connected to it.
    public var hops: Int?
    /// Manifest seq held.
    public var seq: UInt64
    /// When this version arrived, ms since the epoch.
    public var updatedAt: UInt64
    /// `friend`, `requested`, `pending`, `equivocating`, `expired`.
    public var flags: [String]
}

/// Reads what a node knows about people straight from its store (works with or without a
/// running node).
public enum People {
    /// Every identity whose manifest the node holds, nearest first.
    public static func list(store: Store, me: Identity, now: UInt64 = WallClock.system.now()) throws(StoreError) -> [PersonReport] {
        try graph(store: store, me: me, now: now).people
    }

    /// ``list(store:me:now:)`` with the friendships between everyone in it (both sides signed).
    public static func graph(store: Store, me: Identity, now: UInt64 = WallClock.system.now()) throws(StoreError) -> PeopleReport {
        let manifests = try store.allManifests()
        let records = try store.allConnections()
        let friendships = Self.friendships(records)
        let myFriends = Set(friendships.compactMap { $0.contains(me) ? $0.first { $0 != me } : nil })
        var engine = GossipEngine(me: me, network: .main, config: { var c = GossipConfig(); c.hops = 3; return c }())
        for stored in records { engine.load(record: stored.object, stored.record) }
        var standing: [Identity: (mine: ConnectionRecord?, theirs: ConnectionRecord?)] = [:]
        for stored in records where stored.record.a == me || stored.record.b == me {
            let other = stored.record.other(than: me)
            if stored.record.by == me { standing[other, default: (nil, nil)].mine = stored.record } else { standing[other, default: (nil, nil)].theirs = stored.record }
        }
        let people = manifests.filter { $0.manifest.id != me }.map { stored in
            let m = stored.manifest
            var flags: [String] = []
            if let s = standing[m.id] {
                switch Relationship.from(mine: s.mine, theirs: s.theirs) {
                case .friends: flags.append("friend")
                case .requested: flags.append("requested")
                case .pending: flags.append("pending")
                case .none: break
                }
            }
            if stored.equivocating { flags.append("equivocating") }
            if m.exp <= now { flags.append("expired") }
            let via = myFriends.filter { $0 != m.id && friendships.contains([$0, m.id]) }.map(\.did).sorted()
            return PersonReport(id: m.id.did, name: m.name, interests: m.interests, bio: m.bio, via: myFriends.contains(m.id) ? [] : via,
                                hops: engine.hops(to: m.id), seq: m.seq, updatedAt: stored.receivedAt, flags: flags)
        }.sorted { ($0.hops ?? 99, $0.name) < ($1.hops ?? 99, $1.name) }
        let shown = Set(people.map(\.id)).union([me.did])
        let edges = friendships.map { $0.map(\.did).sorted() }.filter { $0.allSatisfy(shown.contains) }.sorted { $0.joined() < $1.joined() }
        return PeopleReport(me: me.did, people: people, edges: edges)
    }

    /// The pairs both of whose sides stand by a connection record (a revocation ends one).
    static func friendships(_ records: [StoredConnection]) -> Set<Set<Identity>> {
        var sides: [Set<Identity>: [Identity: ConnectionRecord]] = [:]
        for stored in records { sides[[stored.record.a, stored.record.b], default: [:]][stored.record.by] = stored.record }
        return Set(sides.compactMap { pair, by in
            guard pair.count == 2, let x = pair.first, let y = pair.first(where: { $0 != x }) else { return nil }
            return Relationship.from(mine: by[x], theirs: by[y]) == .friends ? pair : nil
        })
    }
}
