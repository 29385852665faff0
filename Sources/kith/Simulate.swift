import ArgumentParser
import Foundation
import KithSimulation

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate manifest gossip over many nodes with the real state machines and virtual time.",
        discussion: """
            Builds a random friend graph, lets every node replicate its neighbourhood from scratch, checks \
            the replicated sets, then updates one node's manifest and reports rounds, messages and bytes \
            per node. Use a release build for large N.
            """)

    @Option(help: "Number of nodes.") var nodes = 1000
    @Option(help: "Mean number of friends per node.") var degree = 8
    @Option(help: "Random seed (the same seed gives the same run).") var seed: UInt64 = 1
    @Option(help: "Replication scope in hops (1-3).") var hops = 2
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard nodes >= 2 && nodes <= 1_000_000 else { throw ValidationError("--nodes must be 2…1000000") }
        guard degree >= 2 && degree < nodes else { throw ValidationError("--degree must be at least 2 and below --nodes") }
        guard (1...3).contains(hops) else { throw ValidationError("--hops must be 1, 2 or 3") }
    }

    func run() async throws {
        let report = try Simulator.run(SimulationOptions(nodes: nodes, degree: degree, seed: seed, hops: hops)) { line in
            printErr("simulate: \(line)…")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("""
            \(report.nodes) nodes, \(report.edges) friendships (mean degree \(report.degree)), scope \(report.hops) hops, seed \(report.seed)
            bootstrap: \(report.bootstrapRounds) rounds, \(String(format: "%.1f", report.bootstrapMessagesPerNode)) messages per node
            replicated sets equal the \(report.hops)-hop neighbourhoods: \(report.exactScope ? "yes" : "NO (\(report.scopeMismatches) nodes differ)") \
            (mean \(String(format: "%.1f", report.scopeSizeMean)) identities in scope)
            update at node \(report.updatedNode): reached all \(report.inScopeNodes) nodes in scope in \(report.rounds) rounds\(report.updateComplete ? "" : " (INCOMPLETE)")
            per node in scope: \(String(format: "%.2f", report.messagesPerNode)) messages (max \(report.messagesPerNodeMax)), \
            \(String(format: "%.0f", report.bytesPerNode)) bytes (max \(report.bytesPerNodeMax)); minimum \(report.minimumBytesPerNode) bytes, \
            ratio \(String(format: "%.2f", report.bytesRatio))
            wall time \(String(format: "%.1f", report.seconds)) s
            """)
    }
}
