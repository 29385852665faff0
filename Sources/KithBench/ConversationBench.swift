import Foundation
import KithCrypto
import KithModel
import KithNode
import Logging

/// Audit throughput and per-turn protocol overhead.
enum ConversationBench {
    /// Verifies a log of `entries` entries with ``ConversationLog/audit`` against cores × the raw
    /// single-core Ed25519 verify rate on the same messages.
    static func audit(entries count: Int, progress: (String) -> Void) throws -> BenchResult {
        let ada = Ed25519.KeyPair.generate(), cleo = Ed25519.KeyPair.generate()
        let header = ConversationHeader(from: Identity(publicKey: ada.publicKey), to: Identity(publicKey: cleo.publicKey), topic: "bench",
                                        ts: 1, net: .main, maxTurns: UInt64(count)).signed(with: ada)
        progress("audit: signing a \(count)-entry log")
        let conv = header.hash
        var prev = conv
        var objects: [SignedObject] = []
        objects.reserveCapacity(count)
        let model = [UInt8](repeating: 1, count: 32)
        let manifests = try [ada, cleo].map { key in
            try Manifest(id: Identity(publicKey: key.publicKey), seq: 1, ts: 0, exp: 1, name: "bench", bio: "", interests: [], model: model,
                         endpoints: [], caps: [], net: .main).signed(with: key)
        }
        for i in 0..<count {
            let key = i % 2 == 0 ? ada : cleo
            let object = ConversationEntry(conv: conv, seq: UInt64(i + 1), prev: prev, author: Identity(publicKey: key.publicKey), ts: UInt64(i),
                                           kind: .say, text: "turn \(i) of a long benchmark conversation", model: model, disclosed: [],
                                           producer: .ai(engine: "bench"))
                .signed(with: key)
            prev = object.hash
            objects.append(object)
        }
        progress("audit: raw single-core verify rate")
        let sample = Array(objects.prefix(2000))
        let messages = sample.map { SignedObject.signingMessage(type: $0.type, bytes: $0.bytes) }
        let keys = sample.indices.map { $0 % 2 == 0 ? ada.publicKey : cleo.publicKey }
        var i = 0
        var ok = 0
        let raw = Stopwatch.secondsPerIteration(iterations: sample.count, rounds: 3) {
            if keys[i % sample.count].isValidSignature(sample[i % sample.count].sig, for: messages[i % sample.count]) { ok += 1 }
            i += 1
        }
        // What an audit adds per entry on top of the signature check.
        var j = 0
        let decode = Stopwatch.secondsPerIteration(iterations: sample.count, rounds: 3) { _ = try? ConversationEntry.decode(sample[j % sample.count]); j += 1 }
        let hash = Stopwatch.secondsPerIteration(iterations: sample.count, rounds: 3) { _ = sample[j % sample.count].hash; j += 1 }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Raw verification on every core at once: how well this machine's cores scale at all.
        let parallelRaw: Double = {
            let n = sample.count * 4
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: cores) { c in
                var local = 0
                for j in stride(from: c, to: n, by: cores) where keys[j % sample.count].isValidSignature(sample[j % sample.count].sig, for: messages[j % sample.count]) {
                    local += 1
                }
                if local < 0 { print(local) }
            }
            return Double(n) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }()
        progress("audit: verifying the \(count)-entry log on \(cores) cores")
        // The log is open (no close, no seals): only signature and chain problems would count.
        var best = Double.infinity
        for _ in 0..<2 {
            let start = DispatchTime.now().uptimeNanoseconds
            let problems = ConversationLog.audit(ConversationRecords(header: header, manifests: manifests, entries: objects, seals: [])).problems
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard problems.count == 1, problems[0].record == "log" else { throw BenchError("the benchmark log did not audit: \(problems.prefix(2))") }
        }
        let rate = Double(count) / best
        let baseline = Double(cores) / raw
        return BenchResult(name: "audit", value: rate, unit: "entries/s", baseline: baseline, ratio: rate / baseline, goal: 0.9,
                           note: "ConversationLog.audit of \(count) entries vs \(cores) cores × raw crypto_sign_verify_detached (\(Int(1 / raw))/s per core); raw verify on all cores at once reaches \(Int(parallelRaw))/s (\(String(format: "%.2f", parallelRaw / (Double(cores) / raw))) of linear); per entry the audit adds decode \(String(format: "%.1f", decode * 1e6)) µs and hash \(String(format: "%.1f", hash * 1e6)) µs to a \(String(format: "%.1f", raw * 1e6)) µs verify")
    }

    /// Runs `turns` turns between two in-process nodes with script engines over loopback and
    /// reports the median and p99 time per turn against the sum of its raw parts.
    static func turns(_ turns: Int, progress: (String) -> Void) async throws -> [BenchResult] {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("kith-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let perConversation = 200
        let lines = (0..<perConversation).map { "say: turn \($0) — a sentence of ordinary length for a conversation turn." }.joined(separator: "\n")
        try lines.write(toFile: base + "/turns.script", atomically: true, encoding: .utf8)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        var runtimes: [NodeRuntime] = []
        var ports: [Int] = []
        for name in ["Ada", "Cleo"] {
            let yaml = """
                name: \(name)
                policy:
                  converse: anyone
                  max_turns: 200
                  daily_conversations: 10000
                engine:
                  kind: script
                  script: \(base)/turns.script
                """
            let home = NodeHome(path: base + "/" + name)
            try FileManager.default.createDirectory(atPath: home.path, withIntermediateDirectories: true)
            try yaml.write(toFile: home.modelFile, atomically: true, encoding: .utf8)
            _ = try NodeHome.initialise(at: home, name: nil, modelSource: nil, network: "bench", passphrase: nil, cost: .interactive)
            var options = RunOptions()
            options.listenPort = 0
            let runtime = try NodeRuntime(context: try home.open(passphrase: nil), options: options, logger: logger)
            let ready = try await runtime.start()
            runtimes.append(runtime)
            ports.append(ready.port)
        }
        var intervals: [Double] = []
        var done = 0
        do {
            try await converse()
        } catch {
            for r in runtimes { await r.stop() }
            throw error
        }
        func converse() async throws {
        while done < turns {
            progress("turn: conversation \(done / perConversation + 1) of \((turns + perConversation - 1) / perConversation)")
            let stream = await runtimes[0].talk(to: runtimes[1].identity, host: "127.0.0.1", port: ports[1], topic: "bench",
                                                turns: min(perConversation, turns - done + 1))
            var last: UInt64?
            for await event in stream {
                guard event.event == .entry else {
                    if event.event == .failed { throw BenchError("conversation failed: \(event.message ?? "")") }
                    continue
                }
                let now = DispatchTime.now().uptimeNanoseconds
                if let last, event.kind == "say" { intervals.append(Double(now - last) / 1e9) }
                last = now
            }
            done += perConversation
        }
        }
        for r in runtimes { await r.stop() }
        intervals.sort()
        guard !intervals.isEmpty else { throw BenchError("no turns measured") }
        let p50 = intervals[intervals.count / 2], p99 = intervals[min(intervals.count - 1, intervals.count * 99 / 100)]
        progress("turn: raw parts (sign, verify, SQLite insert, loopback round trip)")
        let raw = TurnParts.measure()
        let parts = raw.total
        let note = "\(intervals.count) turns, script engines, loopback; raw parts: \(raw.summary)"
        return [
            BenchResult(name: "turn_p50", value: p50 * 1e6, unit: "µs", baseline: parts * 1e6, ratio: parts / p50, goal: nil, note: note),
            BenchResult(name: "turn_p99", value: p99 * 1e6, unit: "µs", baseline: parts * 1e6, ratio: parts / p99, goal: nil,
                        note: "ratio = raw parts / measured (1.0 would be no overhead)"),
        ]
    }
}
