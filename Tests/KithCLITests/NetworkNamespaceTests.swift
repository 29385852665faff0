import Foundation
import KithTestSupport
import Testing

/// Five hosts in Linux network namespaces on a bridge, each running `kith run` on its own
/// address: ring formation, a partition and its healing, and a conversation surviving a
/// restart (Tests/Network/netns_mesh.sh does the work and cleans up after itself).
@Suite("Multi-host network in namespaces", .serialized, .offCooperativePool,
       .enabled(if: getuid() == 0 && ["/usr/bin/ip", "/sbin/ip", "/usr/sbin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) },
                "needs root and iproute2"))
struct NetworkNamespaceTests {
    @Test func fiveHostsConvergeAcrossAPartitionAndAConversationSurvivesARestart() throws {
        let script = Fixtures.repoFile("Tests/Network/netns_mesh.sh").path
        let result = try CLI.run(URL(fileURLWithPath: "/bin/bash"), [script], environment: ["KITH_BIN": CLI.executable.path])
        let report = result.stdout.split(separator: "\n").filter { $0.hasPrefix("netns:") }.joined(separator: "\n")
        print(report)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(report.contains("every host holds all 4 other manifests"))
        #expect(report.contains("stayed on host 5"), "the update did not cross the cut")
        #expect(report.contains("converged after healing"))
        #expect(report.contains("resumed, complete and audited on both hosts"))
        #expect(report.hasSuffix("netns: ok"))
    }
}
