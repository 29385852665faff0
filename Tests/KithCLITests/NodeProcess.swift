import Foundation
import KithTestSupport

/// A `kith run` child process for end-to-end tests; killed when the test ends.
final class NodeProcess: @unchecked Sendable {
    // Sendable: `process` and the pipes are only touched from the owning test.
    let home: String
    let process = Process()
    let stdout = Pipe()
    let stderr = Pipe()
    private(set) var did = ""
    private(set) var address = ""

    /// Initialises a home from an example (unless it exists) and starts `kith run` on a free port.
    init(example: String, home: String? = nil, extraArguments: [String] = []) throws {
        if let home {
            self.home = home
        } else {
            self.home = try Fixtures.temporaryDirectory("kith-node").appendingPathComponent("home").path
        }
        if !FileManager.default.fileExists(atPath: self.home + "/identity.key") {
            let result = try CLI.run(["init", "--home", self.home, "--from", Fixtures.repoFile("Examples/\(example).yaml").path])
            guard result.status == 0 else { throw NodeProcessError(message: "init failed: \(result.stderr)") }
        }
        process.executableURL = CLI.executable
        process.arguments = ["run", "--home", self.home, "--listen", "127.0.0.1:0"] + extraArguments
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Wait (bounded) for the ready line.
        var line: [UInt8] = []
        let handle = stdout.fileHandleForReading
        let deadline = Date().addingTimeInterval(20)
        while !line.contains(0x0a) && Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: " ")
        guard parts.count == 3, parts[0] == "ready" else {
            process.terminate()
            throw NodeProcessError(message: "no ready line: '\(text)' \(String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self))")
        }
        did = String(parts[1])
        address = String(parts[2].dropFirst("tcp://".count))
    }

    var port: Int { Int(address.split(separator: ":").last!)! }

    /// Sends `signal` and waits (bounded) for the exit status.
    func stop(signal: Int32 = SIGTERM) -> Int32? {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(10)
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
