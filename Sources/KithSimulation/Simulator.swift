import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithProtocol

/// Parameters of one simulation.
public struct SimulationOptions: Sendable {
    /// Number of nodes.
    public var nodes: Int
    /// Mean friend-graph degree.
    public var degree: Int
    /// Random seed: the same seed reproduces the same run.
    public var seed: UInt64
    /// Replication scope in hops.
    public var hops: Int

    /// Creates options.
    public init(nodes: Int, degree: Int, seed: UInt64, hops: Int = 2) {
        self.nodes = nodes
        self.degree = degree
        self.seed = seed
        self.hops = hops
    }
}

/// What `kith simulate` reports.
public struct SimulationReport: Sendable, Codable {
    public var nodes: Int
    public var degree: Int
    public var hops: Int
    public var seed: UInt64
    /// Friendships in the generated graph.
    public var edges: Int
    /// Rounds until the initial replication (from each node knowing only itself) was quiet.
    public var bootstrapRounds: Int
    /// Messages per node during the bootstrap, mean.
    public var bootstrapMessagesPerNode: Double
    /// Whether every node ended holding exactly the manifests of its `hops` neighbourhood.
    public var exactScope: Bool
    /// Nodes whose held set differed from their neighbourhood (0 when ``exactScope``).
    public var scopeMismatches: Int
    /// Mean neighbourhood size (identities in scope per node).
    public var scopeSizeMean: Double
    /// The updated node's index.
    public var updatedNode: Int
    /// Nodes that should receive the update (its neighbourhood).
    public var inScopeNodes: Int
    /// Rounds until every node in scope held the update.
    public var rounds: Int
    /// Whether every node in scope ended with the update.
    public var updateComplete: Bool
    /// Messages received per in-scope node for the update, mean and max.
    public var messagesPerNode: Double
    public var messagesPerNodeMax: Int
    /// Bytes received per in-scope node for the update (framed, with the 16-byte Noise tag), mean and max.
    public var bytesPerNode: Double
    public var bytesPerNodeMax: Int
    /// The unavoidable minimum per in-scope node: one message carrying the manifest once.
    public var minimumBytesPerNode: Int
    /// ``bytesPerNode`` / ``minimumBytesPerNode``.
    public var bytesRatio: Double
    /// Wall time of the whole simulation.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case nodes, degree, hops, seed, edges, rounds, seconds
        case bootstrapRounds = "bootstrap_rounds"
        case bootstrapMessagesPerNode = "bootstrap_messages_per_node"
        case exactScope = "exact_scope"
        case scopeMismatches = "scope_mismatches"
        case scopeSizeMean = "scope_size_mean"
        case updatedNode = "updated_node"
        case inScopeNodes = "in_scope_nodes"
        case updateComplete = "update_complete"
        case messagesPerNode = "messages_per_node"
        case messagesPerNodeMax = "messages_per_node_max"
        case bytesPerNode = "bytes_per_node"
        case bytesPerNodeMax = "bytes_per_node_max"
        case minimumBytesPerNode = "minimum_bytes_per_node"
        case bytesRatio = "bytes_ratio"
    }
}

/// Runs many nodes' ``GossipEngine``s over an in-memory transport in synchronous rounds of
/// virtual time: every message sent in round r is delivered in round r + 1.
public enum Simulator {
    struct Envelope {
        let from: Int
        let to: Int
        let message: GossipMessage
        let bytes: Int
    }

    /// Bytes a message occupies on the wire: frame length (2) + CBOR + Noise tag (16).
    static func wireSize(_ message: GossipMessage) -> Int {
        2 + PeerMessage.gossip(message).cbor.encodedCount + 16
    }

    /// Runs a simulation; `progress` receives a line per phase.
    public static func run(_ options: SimulationOptions, progress: (String) -> Void = { _ in }) throws -> SimulationReport {
        let started = Date()
        precondition(options.nodes >= 2 && options.degree >= 1 && (1...3).contains(options.hops))
        var rng = SplitMix64(seed: options.seed)
        let n = options.nodes
        let now: UInt64 = 1_800_000_000_000

        progress("creating \(n) identities")
        var keys: [Ed25519.KeyPair] = []
        keys.reserveCapacity(n)
        for _ in 0..<n {
            var seed = (0..<4).flatMap { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
            keys.append(try Ed25519.KeyPair(seed: SecretBytes(consuming: &seed)))
        }
        let ids = keys.map { Identity(publicKey: $0.publicKey) }
        var index: [Identity: Int] = [:]
        for (i, id) in ids.enumerated() { index[id] = i }

        progress("building a random friend graph of mean degree \(options.degree)")
        var adjacency = [Set<Int>](repeating: [], count: n)
        var edges: [(Int, Int)] = []
        for i in 0..<n {
            var added = 0, attempts = 0
            while added < max(1, options.degree / 2) && attempts < 100 {
                attempts += 1
                let j = Int(rng.next() % UInt64(n))
                guard j != i, !adjacency[i].contains(j) else { continue }
                adjacency[i].insert(j)
                adjacency[j].insert(i)
                edges.append((i, j))
                added += 1
            }
        }

        progress("signing \(n) manifests and \(edges.count * 2) connection records")
        func manifest(_ i: Int, seq: UInt64) throws -> SignedObject {
            try Manifest(id: ids[i], seq: seq, ts: now - 1000 + seq, exp: now + 86_400_000, name: "node-\(i)", bio: "simulated",
                         interests: ["gossip"], model: BLAKE2b.hash(Array("model \(i) \(seq)".utf8)),
                         endpoints: ["tcp://10.0.\(i / 256 % 256).\(i % 256):7400"], caps: [], net: .main).signed(with: keys[i])
        }
        let cache = VerificationCache()
        var engines = (0..<n).map { GossipEngine(me: ids[$0], network: .main, config: {
            var c = GossipConfig()
            c.hops = options.hops
            c.burst = 1e9
            return c
        }(), cache: cache) }
        for i in 0..<n {
            let object = try manifest(i, seq: 1)
            engines[i].load(manifest: object, try Manifest.verify(object))
        }
        for (i, j) in edges {
            for (signer, other) in [(i, j), (j, i)] {
                let record = ConnectionRecord(signer: ids[signer], other: ids[other], ts: now - 5000)
                let object = record.signed(with: keys[signer])
                engines[i].load(record: object, record)
                engines[j].load(record: object, record)
            }
        }

        // Delivers messages round by round until quiet; returns rounds used.
        var received = [Int](repeating: 0, count: n)
        var receivedBytes = [Int](repeating: 0, count: n)
        func enqueue(_ actions: [GossipAction], from i: Int, into queue: inout [Envelope]) {
            for case .send(let to, let message) in actions {
                guard let j = index[to] else { continue }
                queue.append(Envelope(from: i, to: j, message: message, bytes: wireSize(message)))
            }
        }
        func runRounds(_ initial: [Envelope], until done: (() -> Bool)? = nil, doneRound: inout Int?) -> Int {
            var queue = initial
            var round = 0
            while !queue.isEmpty && round < 200 {
                round += 1
                var next: [Envelope] = []
                for e in queue {
                    received[e.to] += 1
                    receivedBytes[e.to] += e.bytes
                    let actions = engines[e.to].receive(from: ids[e.from], e.message, now: now + UInt64(round))
                    enqueue(actions, from: e.to, into: &next)
                }
                queue = next
                if doneRound == nil, let done, done() { doneRound = round }
            }
            return round
        }

        progress("bootstrap: every friendship opens a session and exchanges digests")
        var queue: [Envelope] = []
        for (i, j) in edges {
            enqueue(engines[i].peerConnected(ids[j]), from: i, into: &queue)
            enqueue(engines[j].peerConnected(ids[i]), from: j, into: &queue)
        }
        var unused: Int? = nil
        let bootstrapRounds = runRounds(queue, doneRound: &unused)
        let bootstrapMessages = received.reduce(0, +)

        progress("checking that every node holds exactly its \(options.hops)-hop neighbourhood")
        func neighbourhood(_ root: Int) -> Set<Int> {
            var dist: [Int: Int] = [root: 0]
            var frontier = [root]
            for depth in 1...options.hops {
                var next: [Int] = []
                for v in frontier { for w in adjacency[v] where dist[w] == nil { dist[w] = depth; next.append(w) } }
                frontier = next
            }
            return Set(dist.keys).subtracting([root])
        }
        var mismatches = 0
        var scopeTotal = 0
        for i in 0..<n {
            let expected = neighbourhood(i)
            scopeTotal += expected.count
            let held = Set(engines[i].heldManifests.keys.compactMap { index[$0] }).subtracting([i])
            if held != expected { mismatches += 1 }
        }

        let x = Int(rng.next() % UInt64(n))
        let scope = neighbourhood(x)
        progress("updating node \(x)'s manifest; \(scope.count) nodes are in its scope")
        received = [Int](repeating: 0, count: n)
        receivedBytes = [Int](repeating: 0, count: n)
        let update = try manifest(x, seq: 2)
        var updateQueue: [Envelope] = []
        enqueue(engines[x].publish(update, now: now), from: x, into: &updateQueue)
        let hasUpdate: () -> Bool = { scope.allSatisfy { engines[$0].heldManifests[ids[x]]?.seq == 2 } }
        var doneRound: Int? = nil
        _ = runRounds(updateQueue, until: hasUpdate, doneRound: &doneRound)
        let complete = hasUpdate()
        let minimum = wireSize(.push(manifests: [update], records: []))
        let inScope = Array(scope)
        let bytes = inScope.map { receivedBytes[$0] }
        let messages = inScope.map { received[$0] }
        let meanBytes = Double(bytes.reduce(0, +)) / Double(max(1, inScope.count))
        return SimulationReport(
            nodes: n, degree: options.degree, hops: options.hops, seed: options.seed, edges: edges.count,
            bootstrapRounds: bootstrapRounds, bootstrapMessagesPerNode: Double(bootstrapMessages) / Double(n),
            exactScope: mismatches == 0, scopeMismatches: mismatches, scopeSizeMean: Double(scopeTotal) / Double(n),
            updatedNode: x, inScopeNodes: scope.count, rounds: doneRound ?? -1, updateComplete: complete,
            messagesPerNode: Double(messages.reduce(0, +)) / Double(max(1, inScope.count)), messagesPerNodeMax: messages.max() ?? 0,
            bytesPerNode: meanBytes, bytesPerNodeMax: bytes.max() ?? 0, minimumBytesPerNode: minimum,
            bytesRatio: meanBytes / Double(minimum), seconds: Date().timeIntervalSince(started))
    }
}
