import KithSimulation
import Testing

@Suite("Gossip simulator")
struct SimulatorTests {
    @Test(arguments: [(UInt64(1), 2), (UInt64(7), 1), (UInt64(3), 3)])
    func replicationMatchesTheNeighbourhoodsAndAnUpdateReachesItsScopeOnce(seed: UInt64, hops: Int) throws {
        let nodes = hops == 3 ? 60 : 120
        let report = try Simulator.run(SimulationOptions(nodes: nodes, degree: 6, seed: seed, hops: hops))
        #expect(report.exactScope, "\(report.scopeMismatches) nodes hold a set other than their \(hops)-hop neighbourhood")
        #expect(report.updateComplete)
        #expect(report.rounds <= hops, "the push follows a shortest-path tree: one round per hop")
        #expect(report.bytesRatio <= 3.0)
        #expect(report.messagesPerNodeMax <= 3)
    }

    @Test func theSameSeedGivesTheSameRun() throws {
        let a = try Simulator.run(SimulationOptions(nodes: 60, degree: 4, seed: 42))
        let b = try Simulator.run(SimulationOptions(nodes: 60, degree: 4, seed: 42))
        #expect(a.updatedNode == b.updatedNode && a.edges == b.edges && a.bytesPerNode == b.bytesPerNode)
    }
}
