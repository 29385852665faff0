import Foundation
import KithTestSupport

/// A `kith run` child process for end-to-end tests; killed when the test ends.
final class NodeProcess: @unchecked Sendable {
    // Sendable: `process` and the pipes are only touched from the owning test.
    let home: String
    let process = ChildProcess()
    let stdout = Pipe()
    let stderr = Pipe()
    private(set) var did = ""
    private(set) var address = ""

    /// Initialises a home from an example (unless it exists) and starts `kith run` on a free port.
    init(example: String, home: String? = nil, extraArguments: [String] = [], listen: String = "127.0.0.1:0",
         environment: [String: String] = [:], logFile: String? = nil, executable: URL = CLI.executable,
         defaultDashboard: Bool = false) throws {
        if let home {
            self.home = home
        } else {
            self.home = try Fixtures.temporaryDirectory("kith-node").appendingPathComponent("home").path
        }
        if !FileManager.default.fileExists(atPath: self.home + "/identity.key") {
            let result = try CLI.run(["init", "--home", self.home, "--from", Fixtures.repoFile("Examples/\(example).yaml").path])
            guard result.status == 0 else { throw NodeProcessError(message: "init failed: \(result.stderr)") }
        }
        process.executableURL = executable
        // A test run that is killed must not leave nodes behind.
        // Tests never reach the public DHT routers: a node joins a DHT only when the test names one.
        let dht = extraArguments.contains { $0.hasPrefix("--dht") || $0 == "--no-dht" } ? [] : ["--no-dht"]
        // Nor do they serve a dashboard unless they test it (many nodes run at once).
        let dashboard = defaultDashboard || extraArguments.contains { $0.hasPrefix("--dashboard") || $0 == "--no-dashboard" } ? [] : ["--no-dashboard"]
        process.arguments = ["run", "--home", self.home, "--listen", listen, "--exit-with-parent"] + dht + dashboard + extraArguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.standardOutput = stdout
        if let logFile {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: logFile)
        } else {
            process.standardError = stderr
        }
        try process.runUnblocked()
        // Wait (bounded) for the ready line.
        var line: [UInt8] = []
        let handle = stdout.fileHandleForReading
        let deadline = Date().addingTimeInterval(20 * Fixtures.timeScale)
        while !line.contains(0x0a) && Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: " ")
        guard parts.count == 3, parts[0] == "ready" else {
            process.terminate()
            // With a log file, stderr went there (reading the unused pipe would block for ever).
            let said = logFile.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }
                ?? String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self)
            throw NodeProcessError(message: "no ready line: '\(text)' \(said)")
        }
        did = String(parts[1])
        address = String(parts[2].dropFirst("tcp://".count))
    }

    var port: Int { Int(address.split(separator: ":").last!)! }

    /// A home for `example` that speaks from `script` lines (engine.kind script) and talks to anyone.
    static func scriptedHome(_ example: String, script: [String], converse: String = "anyone") throws -> String {
        let dir = try Fixtures.temporaryDirectory("kith-talk")
        let scriptPath = dir.appendingPathComponent("\(example).script").path
        try (script.joined(separator: "\n") + "\n").write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let yaml = try String(contentsOf: Fixtures.repoFile("Examples/\(example).yaml"), encoding: .utf8)
            .replacingOccurrences(of: "kind: embedded", with: "kind: script\n  script: \(scriptPath)")
            .replacingOccurrences(of: "converse: fof", with: "converse: \(converse)")
            .replacingOccurrences(of: "converse: friends", with: "converse: \(converse)")
            .replacingOccurrences(of: "max_turns: 12", with: "max_turns: 200")
            .replacingOccurrences(of: "max_turns: 10", with: "max_turns: 200")
        let model = dir.appendingPathComponent("\(example).yaml").path
        try yaml.write(toFile: model, atomically: true, encoding: .utf8)
        let home = dir.appendingPathComponent("home").path
        let result = try CLI.run(["init", "--home", home, "--from", model])
        guard result.status == 0 else { throw NodeProcessError(message: "init failed: \(result.stderr)") }
        return home
    }

    /// Sends `signal` and waits (bounded) for the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(10 * Fixtures.timeScale)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

struct NodeProcessError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
