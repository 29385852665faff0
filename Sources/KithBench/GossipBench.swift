import KithSimulation

/// The gossip simulator's figures for one manifest update.
enum GossipBench {
    static func measure(nodes: Int, progress: (String) -> Void) throws -> [BenchResult] {
        progress("gossip: simulating \(nodes) nodes of degree 8 (replication from scratch, then one update)")
        let r = try Simulator.run(SimulationOptions(nodes: nodes, degree: 8, seed: 1, hops: 2))
        guard r.exactScope && r.updateComplete else { throw BenchError("the simulation did not converge exactly") }
        return [
            BenchResult(name: "gossip_rounds", value: Double(r.rounds), unit: "rounds", baseline: Double(r.hops), ratio: Double(r.hops) / Double(r.rounds),
                        goal: nil, note: "\(nodes) nodes, degree 8, hops 2: rounds for the update to reach all \(r.inScopeNodes) nodes in scope vs the hop distance"),
            BenchResult(name: "gossip_bytes", value: r.bytesPerNode, unit: "B/node", baseline: Double(r.minimumBytesPerNode),
                        ratio: Double(r.minimumBytesPerNode) / r.bytesPerNode, goal: nil,
                        note: "bytes received per in-scope node for the update vs receiving the manifest once; simulation took \(Int(r.seconds)) s"),
        ]
    }
}
