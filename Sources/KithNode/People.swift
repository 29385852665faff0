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
        let manifests = try store.allManifests()
        let records = try store.allConnections()
        var engine = GossipEngine(me: me, network: .main, config: { var c = GossipConfig(); c.hops = 3; return c }())
        for stored in records { engine.load(record: stored.object, stored.record) }
        var standing: [Identity: (mine: ConnectionRecord?, theirs: ConnectionRecord?)] = [:]
        for stored in records where stored.record.a == me || stored.record.b == me {
            let other = stored.record.other(than: me)
            if stored.record.by == me { standing[other, default: (nil, nil)].mine = stored.record } else { standing[other, default: (nil, nil)].theirs = stored.record }
        }
        return manifests.filter { $0.manifest.id != me }.map { stored in
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
            return PersonReport(id: m.id.did, name: m.name, interests: m.interests, hops: engine.hops(to: m.id), seq: m.seq,
                                updatedAt: stored.receivedAt, flags: flags)
        }.sorted { ($0.hops ?? 99, $0.name) < ($1.hops ?? 99, $1.name) }
    }
}
