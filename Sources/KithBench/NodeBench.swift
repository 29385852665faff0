import Foundation
import KithCrypto
import KithModel
import KithNet
import KithNode
import KithProtocol
import Logging
import NIOPosix

/// Startup time and resident memory of a real `kith run` process.
enum NodeBench {
    static func measure(peers: Int, progress: (String) -> Void) async throws -> [BenchResult] {
        let kith = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kith-bench-node-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let home = NodeHome(path: base + "/node")
        _ = try NodeHome.initialise(at: home, name: "Bench", modelSource: nil, network: "main", passphrase: nil, cost: .interactive)

        progress("startup: `kith run` until its ready line, 5 times")
        var startups: [Double] = []
        var node: (process: Process, port: Int)?
        for i in 0..<5 {
            let started = try launch(kith, ["run", "--home", home.path, "--listen", "127.0.0.1:0", "--log-level", "error", "--exit-with-parent", "--no-dht",
                                            "--max-connections", "\(peers + 64)", "--max-connections-per-network", "\(peers + 64)",
                                            "--max-handshakes-per-network", "64", "--reserved-for-friends", "0"])
            startups.append(started.seconds)
            if i == 4 { node = (started.process, started.port) } else { stop(started.process) }
        }
        startups.sort()
        let startup = startups[startups.count / 2]
        var spawn: [Double] = []
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let p = Process()
            p.executableURL = URL(fileURLWithPath: kith)
            p.arguments = ["--version"]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            spawn.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        spawn.sort()
        let spawnTime = spawn[spawn.count / 2]

        guard let (process, port) = node else { throw BenchError("no node") }
        defer { stop(process) }
        try await Task.sleep(for: .milliseconds(300))
        let idle = rss(process.processIdentifier)
        let floor = try floorRSS()

        progress("memory: \(peers) peers connect to the node")
        FileDescriptorLimit.raise(toAtLeast: peers + 256)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let nodeIdentity = try home.open(passphrase: nil).identity
        var transports: [Transport] = []
        var batch: [Task<Bool, Never>] = []
        for _ in 0..<peers {
            let key = Ed25519.KeyPair.generate()
            let t = Transport(credentials: SessionCredentials(signing: key, network: .main), group: group, logger: logger)
            transports.append(t)
            batch.append(Task { (try? await t.dial(host: "127.0.0.1", port: port, expected: nodeIdentity)) != nil })
            if batch.count == 32 {
                for task in batch { _ = await task.value }
                batch = []
            }
        }
        var connected = 0
        for task in batch where await task.value { connected += 1 }
        connected = transports.filter { $0.connection(to: nodeIdentity) != nil }.count
        try await Task.sleep(for: .milliseconds(500))
        let loaded = rss(process.processIdentifier)
        for t in transports { await t.shutdown() }
        try? await group.shutdownGracefully()
        let perPeer = Double(loaded - idle) / Double(max(1, connected))
        let frame = 65_537.0
        return [
            BenchResult(name: "rss_idle", value: Double(idle) / 1_048_576, unit: "MiB", baseline: Double(floor) / 1_048_576,
                        ratio: Double(floor) / Double(idle), goal: nil,
                        note: "resident memory of an idle `kith run` vs a minimal process (/bin/sleep) measured alongside"),
            BenchResult(name: "rss_per_peer", value: perPeer / 1024, unit: "KiB", baseline: frame / 1024, ratio: frame / perPeer, goal: nil,
                        note: "(RSS with \(connected) connected peers − idle) / peers, vs one maximal frame (65,537 B) a peer may make the node buffer; \(connected) of \(peers) connected"),
            BenchResult(name: "startup", value: startup * 1000, unit: "ms", baseline: spawnTime * 1000, ratio: spawnTime / startup, goal: nil,
                        note: "median of 5: launch `kith run` → ready line (opens the key, model, database, listens), vs `kith --version`"),
        ]
    }

    static func launch(_ kith: String, _ arguments: [String]) throws -> (process: Process, port: Int, seconds: Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kith)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let t0 = DispatchTime.now().uptimeNanoseconds
        try process.run()
        var line: [UInt8] = []
        while !line.contains(0x0a) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("ready "), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").last ?? "") else {
            process.terminate()
            throw BenchError("`kith run` did not start: \(text)")
        }
        return (process, port, seconds)
    }

    static func stop(_ process: Process) {
        process.terminate()
        process.waitUntilExit()
    }

    /// VmRSS of a process, in bytes.
    static func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(whereSeparator: \.isWhitespace)[1]) else { return 0 }
        return kb * 1024
    }

    static func floorRSS() throws -> Int {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["2"]
        try p.run()
        usleep(200_000)
        let value = rss(p.processIdentifier)
        p.terminate()
        return value
    }
}
