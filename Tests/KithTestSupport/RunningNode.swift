import Foundation
public import KithModel
public import KithNode
import Logging

/// Runs real nodes (TCP on loopback, control sockets in temporary homes) inside the test process.
public struct RunningNode: Sendable {
    public let home: NodeHome
    public let runtime: NodeRuntime
    public let port: Int

    /// A node already running.
    public init(home: NodeHome, runtime: NodeRuntime, port: Int) {
        self.home = home
        self.runtime = runtime
        self.port = port
    }

    /// Starts a node from `Examples/EXAMPLE.yaml` (its `policy.connect` replaced when given).
    public static func start(_ example: String, connect policy: String? = nil, home existing: NodeHome? = nil) async throws -> RunningNode {
        let home: NodeHome
        if let existing {
            home = existing
        } else {
            home = NodeHome(path: try Fixtures.temporaryDirectory("kn").appendingPathComponent("h").path)
            var yaml = try String(contentsOf: Fixtures.repoFile("Examples/\(example).yaml"), encoding: .utf8)
            if let policy {
                yaml = yaml.replacingOccurrences(of: "connect: ask", with: "connect: \(policy)")
            }
            let source = try Fixtures.temporaryDirectory().appendingPathComponent("\(example).yaml")
            try yaml.write(to: source, atomically: true, encoding: .utf8)
            _ = try NodeHome.initialise(at: home, name: nil, modelSource: source.path, network: "main", passphrase: nil, cost: .interactive)
        }
        var options = RunOptions()
        options.listenPort = 0
        options.redialInterval = 0.3
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = try NodeRuntime(context: try home.open(passphrase: nil), options: options, logger: logger)
        let ready = try await runtime.start()
        let port = ready.port
        return RunningNode(home: home, runtime: runtime, port: port)
    }

    /// The node's identity.
    public var identity: Identity { runtime.identity }
}
