import KithCBOR
public import KithModel

/// Manifest and friend-graph replication as a pure state machine (`Protocol/gossip.md`).
///
/// A node replicates the manifests of identities within ``GossipConfig/hops`` of itself and the
/// connection records that define that neighbourhood. Sessions start with digests; receivers
/// pull what is newer (`want` → `items`); new items are pushed eagerly along a shortest-path tree
/// rooted at their author, so each node in scope normally receives a manifest once; periodic
/// digests to a random friend repair whatever a push missed. The driver feeds events in and
/// performs the returned ``GossipAction``s; the engine never touches sockets or storage.
public struct GossipEngine {
    typealias RecordKey = GossipMessage.RecordKey

    /// This node.
    public let me: Identity
    /// Its network.
    public let network: NetworkID
    /// Parameters.
    public let config: GossipConfig
    private let cache: VerificationCache?

    private(set) var manifests: [Identity: (object: SignedObject, manifest: Manifest)] = [:]
    /// Identities caught equivocating.
    public private(set) var equivocating: Set<Identity> = []
    private var records: [RecordKey: (object: SignedObject, record: ConnectionRecord)] = [:]
    /// The known friend graph.
    public private(set) var graph = FriendGraph()
    private var connected: Set<Identity> = []
    private var myDistances: [Identity: Int]?
    private var rate: RateLimiter<Identity>
    /// Peers that asked for a manifest this node did not hold yet (and when); it is sent if it
    /// arrives within ``deferredWantLifetime``.
    private var deferredWants: [Identity: (peers: Set<Identity>, at: UInt64)] = [:]
    private static let maxDeferredWants = 4_096
    /// How long a `want` for a manifest not held yet is remembered: a minute.
    static let deferredWantLifetime: UInt64 = 60_000
    /// What was received and refused.
    public private(set) var counters = GossipCounters()
    /// Updates to offer peers whose designated push parent is another node.
    private var repairs: [(peer: Identity, author: Identity, seq: UInt64, due: UInt64)] = []

    /// Creates an engine. Pass a shared ``VerificationCache`` only in simulations.
    public init(me: Identity, network: NetworkID, config: GossipConfig = GossipConfig(), cache: VerificationCache? = nil) {
        self.me = me
        self.network = network
        self.config = config
        self.cache = cache
        rate = RateLimiter(ratePerSecond: config.ratePerSecond, burst: config.burst)
    }

    // MARK: - Queries

    /// Hop distance from this node to `id` within the scope, or nil beyond it.
    public mutating func hops(to id: Identity) -> Int? {
        distancesFromMe()[id]
    }

    /// The identities within scope (this node excluded).
    public mutating func scope() -> Set<Identity> {
        Set(distancesFromMe().keys).subtracting([me])
    }

    /// True while replication with `peer` runs (between ``peerConnected(_:)`` and
    /// ``peerDisconnected(_:)``).
    public func isConnected(_ peer: Identity) -> Bool { connected.contains(peer) }

    /// The manifests held, by identity.
    public var heldManifests: [Identity: Manifest] { manifests.mapValues(\.manifest) }

    /// The signed manifest held for `id`.
    public func manifestObject(of id: Identity) -> SignedObject? { manifests[id]?.object }

    /// Number of records held.
    public var recordCount: Int { records.count }

    private mutating func distancesFromMe() -> [Identity: Int] {
        if let d = myDistances { return d }
        let d = graph.distances(from: me, maxDepth: config.hops)
        myDistances = d
        return d
    }

    // MARK: - Loading (no messages)

    /// Adds a manifest from storage without announcing it (verification is the caller's), within
    /// the same cap as manifests that arrive by gossip.
    public mutating func load(manifest object: SignedObject, _ manifest: Manifest, equivocating flagged: Bool = false) {
        guard manifests[manifest.id] != nil || manifests.count < config.maxManifests || manifest.id == me else { return }
        manifests[manifest.id] = (object, manifest)
        if flagged { equivocating.insert(manifest.id) }
    }

    /// Adds a record from storage without announcing it, within the gossip cap.
    public mutating func load(record object: SignedObject, _ record: ConnectionRecord) {
        let key = RecordKey(record)
        if let held = records[key], !record.supersedes(held.record) { return }
        guard records[key] != nil || records.count < config.maxRecords else { return }
        records[key] = (object, record)
        updateEdge(record.a, record.b)
    }

    // MARK: - Events

    /// A session with a friend opened: send it a digest of what it may want.
    public mutating func peerConnected(_ peer: Identity) -> [GossipAction] {
        connected.insert(peer)
        return digest(for: peer)
    }

    /// A session closed.
    public mutating func peerDisconnected(_ peer: Identity) {
        connected.remove(peer)
    }

    /// Publishes a manifest or record this node made or accepted outside gossip (its own
    /// manifest, a hello, its friendship records): stores it in the engine and pushes it.
    public mutating func publish(_ object: SignedObject, now: UInt64) -> [GossipAction] {
        var actions: [GossipAction] = []
        accept(object, from: nil, now: now, trusted: true, forward: true, actions: &actions)
        return actions
    }

    /// Sends a digest to one connected peer chosen by `pick` (anti-entropy).
    public mutating func antiEntropy(pick: (Int) -> Int) -> [GossipAction] {
        let peers = connected.sorted()
        guard !peers.isEmpty else { return [] }
        return digest(for: peers[pick(peers.count)])
    }

    /// Handles a gossip message from a connected peer.
    public mutating func receive(from peer: Identity, _ message: GossipMessage, now: UInt64) -> [GossipAction] {
        guard rate.take(peer, now: now) else {
            counters.rateLimited += 1
            return []
        }
        switch message {
        case .digest(let m, let r): return receiveDigest(from: peer, manifests: m, records: r)
        case .want(let m, let r): return receiveWant(from: peer, manifests: m, records: r, now: now)
        case .items(let m, let r): return receiveItems(from: peer, manifests: m, records: r, now: now, pushed: false)
        case .push(let m, let r): return receiveItems(from: peer, manifests: m, records: r, now: now, pushed: true)
        }
    }

    /// Counts a gossip message that broke its format (the driver could not decode it).
    public mutating func receivedMalformed(from peer: Identity) {
        counters.malformedMessages += 1
    }

    // MARK: - Digest / want / items

    enum FreshItem {
        case manifest(Identity, UInt64)
        case record(ConnectionRecord)
    }

    /// Digests of what `peer` may want: everything held in its scope, or only `subset`.
    private mutating func digest(for peer: Identity, only subset: [FreshItem]? = nil) -> [GossipAction] {
        let dist = graph.distances(from: peer, maxDepth: config.hops)
        var m: [GossipMessage.ManifestVersion] = []
        var r: [GossipMessage.RecordVersion] = []
        func addManifest(_ id: Identity, _ seq: UInt64) {
            // The peer's own manifest is included too: a peer restored from an old backup learns
            // which seq its friends hold before it signs again.
            guard id == peer || (dist[id].map { $0 <= config.hops } == true) else { return }
            m.append(.init(id: id, seq: seq))
        }
        func addRecord(_ record: ConnectionRecord) {
            guard isGossipable(record), recordInScope(record, distances: dist) else { return }
            r.append(.init(record))
        }
        if let subset {
            for item in subset {
                switch item {
                case .manifest(let id, let seq): addManifest(id, seq)
                case .record(let record): addRecord(record)
                }
            }
        } else {
            for (id, entry) in manifests { addManifest(id, entry.manifest.seq) }
            for (_, entry) in records { addRecord(entry.record) }
        }
        guard !m.isEmpty || !r.isEmpty else { return [] }
        var actions: [GossipAction] = []
        let limit = config.maxDigestEntries
        var i = 0, j = 0
        while i < m.count || j < r.count {
            let mc = min(limit, m.count - i)
            let rc = min(limit - mc, r.count - j)
            actions.append(.send(to: peer, .digest(manifests: Array(m[i..<i + mc]), records: Array(r[j..<j + rc]))))
            i += mc
            j += rc
        }
        return actions
    }

    private mutating func receiveDigest(from peer: Identity, manifests m: [GossipMessage.ManifestVersion],
                                        records r: [GossipMessage.RecordVersion]) -> [GossipAction] {
        guard m.count + r.count <= config.maxDigestEntries else {
            counters.malformedMessages += 1
            return []
        }
        var wantManifests: [Identity] = []
        var wantRecords: [RecordKey] = []
        // A friend holds a newer manifest of this node's own (this node was restored from an old
        // backup): fetch it, so the claim is checked against this node's own signature.
        if m.contains(where: { $0.id == me && $0.seq > (manifests[me]?.manifest.seq ?? 0) }) { wantManifests.append(me) }
        for version in m {
            let id = version.id
            guard id != me, !equivocating.contains(id), let d = hops(to: id), d <= config.hops else { continue }
            if (manifests[id]?.manifest.seq ?? 0) < version.seq { wantManifests.append(id) }
        }
        for version in r {
            let offered = version.record
            let d = distancesFromMe()
            guard recordInScope(offered, distances: d) else { continue }
            if let held = records[version.key], !offered.supersedes(held.record) { continue }
            wantRecords.append(version.key)
        }
        return wants(to: peer, manifests: wantManifests, records: wantRecords)
    }

    private func wants(to peer: Identity, manifests m: [Identity], records r: [RecordKey]) -> [GossipAction] {
        var actions: [GossipAction] = []
        var i = 0, j = 0
        while i < m.count || j < r.count {
            let mc = min(config.maxWant, m.count - i)
            let rc = min(config.maxWant - mc, r.count - j)
            actions.append(.send(to: peer, .want(manifests: Array(m[i..<i + mc]), records: Array(r[j..<j + rc]))))
            i += mc
            j += rc
        }
        return actions
    }

    private mutating func receiveWant(from peer: Identity, manifests m: [Identity], records r: [RecordKey], now: UInt64) -> [GossipAction] {
        guard m.count + r.count <= config.maxWant else {
            counters.malformedMessages += 1
            return []
        }
        var objects: [SignedObject] = []
        var recordObjects: [SignedObject] = []
        // Only what lies in the requester's own scope: a friend cannot use this node to fetch
        // the profiles of people beyond its friends of friends.
        let theirs = graph.distances(from: peer, maxDepth: config.hops)
        for id in m {
            guard id == peer || (theirs[id].map { $0 <= config.hops } == true) else {
                counters.outOfScope += 1
                continue
            }
            if let held = manifests[id] {
                objects.append(held.object)
            } else {
                if deferredWants.count >= Self.maxDeferredWants { deferredWants = deferredWants.filter { now < $0.value.at + Self.deferredWantLifetime } }
                if deferredWants.count < Self.maxDeferredWants || deferredWants[id] != nil {
                    var waiting = deferredWants[id] ?? ([], now)
                    waiting.peers.insert(peer)
                    waiting.at = now
                    deferredWants[id] = waiting
                }
            }
        }
        for key in r {
            if let held = records[key], isGossipable(held.record), recordInScope(held.record, distances: theirs) { recordObjects.append(held.object) }
        }
        return items(to: peer, manifests: objects, records: recordObjects)
    }

    /// `items` messages, split so each stays under ``GossipConfig/maxItemsBytes``.
    private func items(to peer: Identity, manifests: [SignedObject], records: [SignedObject]) -> [GossipAction] {
        var actions: [GossipAction] = []
        var m: [SignedObject] = [], r: [SignedObject] = []
        var size = 32
        func flush() {
            if !m.isEmpty || !r.isEmpty {
                actions.append(.send(to: peer, .items(manifests: m, records: r)))
            }
            m = []; r = []; size = 32
        }
        for object in records {
            let cost = object.bytes.count + object.sig.count + 32
            if size + cost > config.maxItemsBytes { flush() }
            r.append(object)
            size += cost
        }
        for object in manifests {
            let cost = object.bytes.count + object.sig.count + 32
            if size + cost > config.maxItemsBytes { flush() }
            m.append(object)
            size += cost
        }
        flush()
        return actions
    }

    /// `items` answer a `want` (pulled: stored, not forwarded); `push` carries a new item along
    /// the push tree (stored and forwarded).
    private mutating func receiveItems(from peer: Identity, manifests m: [SignedObject], records r: [SignedObject], now: UInt64,
                                       pushed: Bool) -> [GossipAction] {
        var actions: [GossipAction] = []
        let scopeBefore = distancesFromMe().count
        // Records first: they can widen the scope for the manifests that follow.
        for object in r {
            accept(object, from: peer, now: now, trusted: false, forward: pushed, actions: &actions)
        }
        for object in m {
            accept(object, from: peer, now: now, trusted: false, forward: pushed, actions: &actions)
        }
        // A wider scope: ask the sender for the manifests now in scope that are missing.
        if distancesFromMe().count != scopeBefore {
            let missing = distancesFromMe().keys.filter { $0 != me && manifests[$0] == nil && !equivocating.contains($0) }
            actions += wants(to: peer, manifests: Array(missing), records: [])
        }
        // Pulled records that widened this node's graph are not pushed on, but the other friends
        // hear of them in a small digest, so the graph spreads beyond one hop before anti-entropy.
        if !pushed && distancesFromMe().count != scopeBefore {
            let fresh = actions.compactMap { action -> FreshItem? in
                if case .storeRecord(_, let record) = action { return .record(record) }
                return nil
            }
            for other in connected where other != peer {
                actions += digest(for: other, only: fresh)
            }
        }
        return actions
    }

    // MARK: - Accepting and forwarding

    private mutating func accept(_ object: SignedObject, from sender: Identity?, now: UInt64, trusted: Bool, forward: Bool,
                                 actions: inout [GossipAction]) {
        switch object.type {
        case Manifest.type:
            acceptManifest(object, from: sender, now: now, trusted: trusted, forward: forward, actions: &actions)
        case ConnectionRecord.type, ConnectionRecord.revocationType:
            acceptRecord(object, from: sender, trusted: trusted, forward: forward, actions: &actions)
        default:
            counters.rejected += 1
        }
    }

    private func verifiedManifest(_ object: SignedObject, now: UInt64) -> Manifest? {
        let key = object.hash
        if let cache, let m = cache.manifests[key] { return now < m.exp ? m : nil }
        guard let m = try? Manifest.verify(object, now: now) else { return nil }
        cache?.manifests[key] = m
        return m
    }

    private func verifiedRecord(_ object: SignedObject) -> ConnectionRecord? {
        let key = object.hash
        if let cache, let r = cache.records[key] { return r }
        guard let r = try? ConnectionRecord.verify(object) else { return nil }
        cache?.records[key] = r
        return r
    }

    private mutating func acceptManifest(_ object: SignedObject, from sender: Identity?, now: UInt64, trusted: Bool, forward: Bool,
                                         actions: inout [GossipAction]) {
        guard let manifest = verifiedManifest(object, now: now), manifest.net == network else {
            counters.rejected += 1
            return
        }
        let id = manifest.id
        if !trusted && id == me {
            // This node's own manifest, signed by its own key, newer than what it holds: it was
            // restored from an old backup and must sign above it. It is never stored from gossip.
            if manifest.seq > (manifests[me]?.manifest.seq ?? 0) { actions.append(.ownManifestBehind(seq: manifest.seq)) }
            return
        }
        if !trusted {
            guard let d = hops(to: id), d <= config.hops else {
                counters.outOfScope += 1
                return
            }
        }
        if let held = manifests[id] {
            if manifest.seq < held.manifest.seq {
                counters.stale += 1
                return
            }
            if manifest.seq == held.manifest.seq {
                if held.object.hash == object.hash {
                    counters.duplicates += 1
                } else if !equivocating.contains(id) {
                    counters.equivocations += 1
                    equivocating.insert(id)
                    actions.append(.equivocation(id))
                }
                return
            }
        } else if manifests.count >= config.maxManifests {
            counters.overCapacity += 1
            return
        }
        manifests[id] = (object, manifest)
        counters.manifestsAccepted += 1
        actions.append(.storeManifest(object, manifest))
        let deferred = deferredWants.removeValue(forKey: id)
        for waiting in deferred.map({ now < $0.at + Self.deferredWantLifetime ? $0.peers : [] }) ?? [] where waiting != sender && connected.contains(waiting) {
            actions += items(to: waiting, manifests: [object], records: [])
        }
        guard forward, !equivocating.contains(id) else { return }
        forwardManifest(object, manifest, except: sender, now: now, actions: &actions)
    }

    /// Pushes a manifest to each connected peer in its scope for which this node is the
    /// designated parent on the shortest-path tree rooted at the author (ties broken by the
    /// bytewise smallest identity), so each node normally receives it exactly once.
    ///
    /// Where this node is a parent but not the designated one, it schedules a repair: after
    /// ``repairDelay`` it sends that peer a one-entry digest, so a silent or slow designated parent
    /// delays the update by a few seconds at most (the peer asks only if it lacks it).
    private mutating func forwardManifest(_ object: SignedObject, _ manifest: Manifest, except sender: Identity?, now: UInt64,
                                          actions: inout [GossipAction]) {
        let author = manifest.id
        let dist = graph.distances(from: author, maxDepth: config.hops)
        for peer in connected where peer != sender && peer != author {
            guard let d = dist[peer], d >= 1, d <= config.hops else { continue }
            let parents = graph.neighbours(peer).filter { dist[$0] == d - 1 }
            if parents.min() == me {
                actions.append(.send(to: peer, .push(manifests: [object], records: [])))
            } else if parents.contains(me) {
                scheduleRepair(peer, author: author, seq: manifest.seq, due: now + Self.repairDelay)
            }
        }
    }

    /// How long a parent that is not the designated one waits before offering an update: 2 s.
    public static let repairDelay: UInt64 = 2_000
    private static let maxRepairs = 4_096

    private mutating func scheduleRepair(_ peer: Identity, author: Identity, seq: UInt64, due: UInt64) {
        if repairs.count >= Self.maxRepairs { repairs.removeFirst(repairs.count - Self.maxRepairs + 1) }
        repairs.append((peer, author, seq, due))
    }

    /// Time passed: repairs that came due go out as one-entry digests (only while the update is
    /// still the newest this node holds and the peer is connected).
    public mutating func tick(now: UInt64) -> [GossipAction] {
        var actions: [GossipAction] = []
        var waiting: [(peer: Identity, author: Identity, seq: UInt64, due: UInt64)] = []
        for repair in repairs {
            guard now >= repair.due else { waiting.append(repair); continue }
            guard connected.contains(repair.peer), manifests[repair.author]?.manifest.seq == repair.seq else { continue }
            actions.append(.send(to: repair.peer, .digest(manifests: [.init(id: repair.author, seq: repair.seq)], records: [])))
        }
        repairs = waiting
        return actions
    }

    private mutating func acceptRecord(_ object: SignedObject, from sender: Identity?, trusted: Bool, forward: Bool,
                                       actions: inout [GossipAction]) {
        guard let record = verifiedRecord(object) else {
            counters.rejected += 1
            return
        }
        let key = RecordKey(record)
        if !trusted {
            guard recordInScope(record, distances: distancesFromMe()) || record.a == me || record.b == me else {
                counters.outOfScope += 1
                return
            }
        }
        if let held = records[key], !record.supersedes(held.record) {
            counters.duplicates += 1
            return
        }
        if records[key] == nil && records.count >= config.maxRecords {
            counters.overCapacity += 1
            return
        }
        records[key] = (object, record)
        counters.recordsAccepted += 1
        actions.append(.storeRecord(object, record))
        updateEdge(record.a, record.b)
        guard forward, isGossipable(record) else { return }
        // Records are small: push the pair (or the revocation) to every friend in its scope.
        let pair = [RecordKey(a: record.a, b: record.b, by: record.a), RecordKey(a: record.a, b: record.b, by: record.b)]
            .compactMap { records[$0]?.object }
        // A peer is in the record's scope when it is within hops − 1 of either end.
        let reach = config.hops - 1
        let nearA = graph.distances(from: record.a, maxDepth: reach), nearB = graph.distances(from: record.b, maxDepth: reach)
        for peer in connected where peer != sender && (nearA[peer] != nil || nearB[peer] != nil) {
            actions.append(.send(to: peer, .push(manifests: [], records: pair)))
        }
    }

    /// Whole friendships (both halves) and revocations travel; lone requests stay between the two.
    private func isGossipable(_ record: ConnectionRecord) -> Bool {
        if record.kind == .revocation { return true }
        let other = RecordKey(a: record.a, b: record.b, by: record.by == record.a ? record.b : record.a)
        return records[other]?.record.kind == .connection
    }

    /// A record defines the scope of whoever is within `hops − 1` of either end.
    private func recordInScope(_ record: ConnectionRecord, distances: [Identity: Int]) -> Bool {
        let da = distances[record.a] ?? Int.max, db = distances[record.b] ?? Int.max
        return min(da, db) <= config.hops - 1
    }

    private mutating func updateEdge(_ a: Identity, _ b: Identity) {
        let standing = records[RecordKey(a: a, b: b, by: a)]?.record.kind == .connection
            && records[RecordKey(a: a, b: b, by: b)]?.record.kind == .connection
        let had = graph.neighbours(a).contains(b)
        if standing && !had { graph.connect(a, b) }
        if !standing && had { graph.disconnect(a, b) }
        if standing != had { myDistances = nil }
    }
}
