import Foundation
import Glibc
import KithCrypto
import KithModel
import KithNet
import KithNode
import KithProtocol
import KithTestSupport
import Logging
import NIOPosix
import Testing

/// Issue 14 item 4: each attack runs against a real `kith run` while an honest friend (in this
/// process) and an honest stranger (through a proxy adding 150 ms of round trip, from its own
/// network) connect, gossip and converse. For each: the stranger's session set-up time, whether
/// both honest conversations complete, the node's RSS growth and how long its CPU takes to go idle
/// once the attack stops. The table is printed (and goes in the README).
@Suite("Hostile load against a running node", .serialized, .offCooperativePool)
struct HostileLoadTests {
    struct Row {
        var attack: String
        var setup: Double
        var friendTalked: Bool
        var strangerTalked: Bool
        var rssGrowthMiB: Double
        var idleAfter: Double
        var note: String
    }

    /// The node under attack: converses with anyone, keeps friend requests for its person (the
    /// default `connect: ask`), speaks from a script.
    static func target(udp: Bool = false) throws -> NodeProcess {
        let lines = (1...40).map { "say: line \($0)" }
        let home = try NodeProcess.scriptedHome("ada", script: lines, converse: "anyone")
        // Its log goes to a file (a pipe nobody reads would fill and stall it).
        return try NodeProcess(example: "", home: home, extraArguments: udp ? ["--udp", "127.0.0.1:0"] : [], logFile: home + "/../node.log",
                               executable: nodeBinary)
    }

    /// The `kith` under attack: the release build users run (`$KITH_LOAD_BIN`, which the README's
    /// test command builds), else the debug build beside the tests.
    static var nodeBinary: URL {
        ProcessInfo.processInfo.environment["KITH_LOAD_BIN"].map { URL(fileURLWithPath: $0) } ?? CLI.executable
    }

    static func rssMiB(_ pid: Int32) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }

    static func cpuTicks(_ pid: Int32) -> Int {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    /// Seconds until the process uses under 5 % of a core over a quarter second (bounded: 15 s).
    static func secondsUntilIdle(_ pid: Int32) -> Double {
        let start = Date()
        var ticks = cpuTicks(pid)
        while Date().timeIntervalSince(start) < 15 {
            usleep(250_000)
            let now = cpuTicks(pid)
            if Double(now - ticks) / 25.0 < 0.05 { return Date().timeIntervalSince(start) }
            ticks = now
        }
        return 15
    }

    /// A stranger's identity dialling through `proxy`: the seconds its session takes.
    static func strangerSetup(_ proxy: DelayProxy, target: NodeProcess, group: MultiThreadedEventLoopGroup) async -> Double {
        var logger = Logger(label: "stranger")
        logger.logLevel = ProcessInfo.processInfo.environment["KITH_LOAD_DEBUG"] != nil ? .trace : .critical
        let transport = Transport(credentials: SessionCredentials(signing: .generate(), network: .main), group: group, logger: logger)
        let start = Date()
        let ok = (try? await transport.dial(host: "127.0.0.1", port: proxy.port, expected: try Identity(did: target.did))) != nil
        let seconds = Date().timeIntervalSince(start)
        await transport.shutdown()
        return ok ? seconds : .infinity
    }

    /// Nil when a conversation completes (both seals) within the test's bounds, else why not.
    static func talks(_ node: RunningNode, to target: NodeProcess, via port: Int? = nil) async -> String? {
        guard let id = try? Identity(did: target.did) else { return "bad did" }
        let events = await node.runtime.talk(to: id, host: port == nil ? nil : "127.0.0.1", port: port, topic: "under attack", turns: 4)
        let done = Task { () -> String? in
            var last = "no event"
            for await event in events {
                if event.event == .complete { return nil }
                last = "\(event.event) \(event.message ?? "")"
            }
            return "ended after: \(last)"
        }
        let timeout = Task {
            try? await Task.sleep(for: .seconds(30))
            done.cancel()
        }
        defer { timeout.cancel() }
        return await done.value
    }

    /// Blocking attack work on a thread of its own, until `stop` is set.
    final class Flood: @unchecked Sendable {
        // Sendable: `stopped` and `count` are guarded by `lock`; each thread owns what its `body` holds.
        private let lock = NSLock()
        private var stopped = false
        private(set) var count = 0
        private let finished = DispatchSemaphore(value: 0)
        private let threads: Int

        /// Runs `body(flood, thread)` on `threads` threads.
        init(threads: Int = 1, _ body: @escaping @Sendable (Flood, Int) -> Void) {
            self.threads = threads
            for t in 0..<threads {
                Thread { [self] in
                    body(self, t)
                    finished.signal()
                }.start()
            }
        }
        var isStopped: Bool { lock.withLock { stopped } }
        func add(_ n: Int = 1) { lock.withLock { count += n } }
        var done: Int { lock.withLock { count } }
        /// Lets the flood run until it has done `total` (at most `seconds` more), then stops it.
        func finish(_ total: Int, within seconds: Double = 10) {
            let deadline = Date().addingTimeInterval(seconds)
            while done < total && Date() < deadline { usleep(50_000) }
            stop()
        }

        func stop() {
            lock.withLock { stopped = true }
            for _ in 0..<threads { finished.wait() }
        }
    }

    /// Runs one attack: `attack` starts it (returning what stops it, and a note) once the honest
    /// friend is connected; the honest peers act while it runs.
    static func run(_ name: String, udp: Bool = false, attack: (NodeProcess, RunningNode) async throws -> (stop: () -> Void, note: () -> String))
        async throws -> Row {
        let node = try target(udp: udp)
        let pid = node.process.processIdentifier
        let target = try Identity(did: node.did)
        let friend = try await RunningNode.start("ben")
        _ = await friend.runtime.connect(to: target, host: "127.0.0.1", port: node.port)
        _ = try CLI.run(["accept", friend.identity.did, "--home", node.home])
        guard await eventually(10, { await friend.runtime.relationship(with: target) == .friends }) else {
            throw NodeProcessError(message: "the honest friend did not become a friend")
        }
        let stranger = try await RunningNode.start("cleo")
        let proxy = try DelayProxy(target: node.port, delay: 0.075, source: "127.3.0.1")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await Task.sleep(for: .milliseconds(500))
        let baseline = rssMiB(pid)
        var peak = baseline

        let (stop, note) = try await attack(node, friend)
        peak = max(peak, rssMiB(pid))
        // The median of three dials: one figure alone, on two shared cores, is sometimes a
        // scheduler's hiccup (a 2.2 s outlier once in CI where every other run measured 0.3 s).
        var setups: [Double] = []
        for _ in 0..<3 { setups.append(await strangerSetup(proxy, target: node, group: group)) }
        let setup = setups.sorted()[1]
        async let friendTalk = talks(friend, to: node)
        async let strangerTalk = talks(stranger, to: node, via: proxy.port)
        let (friendFailure, strangerFailure) = await (friendTalk, strangerTalk)
        let friendTalked = friendFailure == nil, strangerTalked = strangerFailure == nil
        peak = max(peak, rssMiB(pid))
        stop()
        peak = max(peak, rssMiB(pid))
        let idle = secondsUntilIdle(pid)
        let row = Row(attack: name, setup: setup, friendTalked: friendTalked, strangerTalked: strangerTalked,
                      rssGrowthMiB: peak - baseline, idleAfter: idle,
                      note: note() + (friendFailure.map { "; friend: \($0)" } ?? "") + (strangerFailure.map { "; stranger: \($0)" } ?? ""))
        proxy.stop()
        try? await group.shutdownGracefully()
        await friend.runtime.stop()
        await stranger.runtime.stop()
        _ = node.stop()
        return row
    }

    /// How fast the empty-connection floods connect: what one core of the node (release build)
    /// absorbs here with the attacker and the honest peers on the same two cores. Faster, on this
    /// machine, is a CPU flood (the node's accept queue grows, every newcomer waits in it alike),
    /// which no admission rule answers.
    /// (The debug build, a few times slower, gets half the rate.)
    static let floodRate = ProcessInfo.processInfo.environment["KITH_LOAD_BIN"] == nil ? 1_000.0 : 2_000.0

    /// A thread opening connections that never send a byte, from `source(i)`, ``floodRate`` a
    /// second, keeping its newest `keepOpen` open, until `total` are opened or the flood is stopped.
    static func emptyConnections(to port: Int, from source: @escaping @Sendable (Int) -> String, keepOpen: Int, total: Int) -> Flood {
        Flood { flood, _ in
            var open: [Int32] = []
            var i = 0
            let start = Date()
            while i < total && !flood.isStopped {
                let due = start.addingTimeInterval(Double(i) / floodRate).timeIntervalSinceNow
                if due > 0 { usleep(UInt32(due * 1_000_000)) }
                if let fd = try? RawClient.connect(port: port, from: source(i)) {
                    open.append(fd)
                    flood.add()
                }
                if open.count > keepOpen { close(open.removeFirst()) }
                i += 1
            }
            while !flood.isStopped { usleep(50_000) }
            for fd in open { close(fd) }
        }
    }

    /// `kith status --json` of the node (empty when it does not answer).
    static func status(_ node: NodeProcess) -> [String: Any] {
        guard let out = try? CLI.run(["status", "--json", "--home", node.home]).stdout,
              let status = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else { return [:] }
        return status
    }

    /// The node's admission counters, for a row's note.
    static func tcpCounters(_ node: NodeProcess) -> String {
        guard let tcp = status(node)["tcp"] as? [String: Int] else { return "" }
        return "; node: \(tcp["handshakes_evicted"] ?? 0) evicted, \(tcp["retries"] ?? 0) retry cookies, \(tcp["refused_per_address"] ?? 0) refused per network"
    }

    /// The silent push parent (issue 14): Dan, a friend of the node and of Eve, holds a smaller
    /// key than Ben (the node's honest friend, also Eve's friend), so Dan is the designated
    /// parent for pushing Eve's updates to the node — and Dan is silent (gone). Returns the
    /// seconds between Eve signing an update and the node holding it.
    static func updateDelayPastSilentParent(_ node: NodeProcess, _ ben: RunningNode) async throws -> Double {
        let target = try Identity(did: node.did)
        let eve = try await RunningNode.start("cleo", connect: "auto")
        defer { Task { await eve.runtime.stop() } }
        _ = await eve.runtime.connect(to: ben.identity, host: "127.0.0.1", port: ben.port)
        _ = await ben.runtime.accept(eve.identity)
        var dan = try await RunningNode.start("cleo")
        while !(dan.identity < ben.identity) {
            await dan.runtime.stop()
            dan = try await RunningNode.start("cleo")
        }
        _ = await dan.runtime.connect(to: target, host: "127.0.0.1", port: node.port)
        _ = try CLI.run(["accept", dan.identity.did, "--home", node.home])
        _ = await dan.runtime.connect(to: eve.identity, host: "127.0.0.1", port: eve.port)
        // Ben knows both of Dan's friendships (so Dan is the designated parent), and the node
        // holds Eve's manifest; then Dan goes silent.
        func seqAtNode() -> UInt64? {
            guard let out = try? CLI.run(["people", "--json", "--home", node.home]).stdout,
                  let people = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] else { return nil }
            return (people.first { $0["id"] as? String == eve.identity.did }?["seq"] as? NSNumber)?.uint64Value
        }
        guard await eventually(15, { await ben.runtime.hops(to: dan.identity) == 2 && seqAtNode() != nil }),
              await ben.runtime.hops(to: target) == 1 else {
            throw NodeProcessError(message: "the gossip graph for the silent-parent attack did not form (Ben: Dan \(await ben.runtime.hops(to: dan.identity).map(String.init) ?? "-") hops, the node \(await ben.runtime.hops(to: target).map(String.init) ?? "-"); the node holds Eve's manifest: \(seqAtNode() != nil))")
        }
        try await Task.sleep(for: .seconds(1))  // both of Dan's records, which arrive apart
        await dan.runtime.stop()
        let before = seqAtNode() ?? 0
        let yaml = try String(contentsOfFile: eve.home.modelFile, encoding: .utf8).replacingOccurrences(of: "interests: [", with: "interests: [kites, ")
        try yaml.write(toFile: eve.home.modelFile, atomically: true, encoding: .utf8)
        let signed = Date()
        guard try await eve.runtime.reload().changed else { throw NodeProcessError(message: "Eve's update was not signed") }
        while (seqAtNode() ?? 0) <= before && Date().timeIntervalSince(signed) < 60 { try await Task.sleep(for: .milliseconds(100)) }
        return Date().timeIntervalSince(signed)
    }

    static func credentials() -> SessionCredentials { SessionCredentials(signing: .generate(), network: .main) }

    /// ``run(_:udp:attack:)`` unless `$KITH_LOAD_ONLY` names another attack (to run one alone).
    static func runIfWanted(_ name: String, udp: Bool = false,
                            attack: (NodeProcess, RunningNode) async throws -> (stop: () -> Void, note: () -> String)) async throws -> Row? {
        if let only = ProcessInfo.processInfo.environment["KITH_LOAD_ONLY"], !name.contains(only) { return nil }
        return try await run(name, udp: udp, attack: attack)
    }

    @Test func eachAttackLeavesHonestPeersServed() async throws {
        #expect(FileDescriptorLimit.raise(toAtLeast: 8_192) >= 4_096)
        var rows: [Row] = []

        if let row = try await Self.runIfWanted("no attack (baseline)", attack: { _, _ in ({}, { "" }) }) { rows.append(row) }

        if let row = try await Self.runIfWanted("1,024 idle valid sessions from 17 networks", attack: { node, _ in
            let target = try Identity(did: node.did)
            let flood = Flood { flood, _ in
                var fds: [Int32] = []
                for i in 0..<1_024 where !flood.isStopped {
                    guard let fd = try? RawClient.connect(port: node.port, from: "127.2.\(i % 17).\(1 + i / 17)") else { continue }
                    if RawClient.session(fd, credentials: Self.credentials(), expected: target) != nil { flood.add() }
                    fds.append(fd)
                }
                while !flood.isStopped { usleep(50_000) }
                for fd in fds { close(fd) }
            }
            while flood.done < 900 && flood.done >= 0 { try await Task.sleep(for: .milliseconds(100)); if flood.isStopped { break } }
            try await Task.sleep(for: .seconds(6))  // the attackers' sessions are idle now
            return ({ flood.stop() }, { "\(flood.done) sessions established" })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("10,000 empty connections from 20 networks", attack: { node, _ in
            let flood = Self.emptyConnections(to: node.port, from: { i in "127.4.\(i % 20).\(1 + (i / 20) % 250)" }, keepOpen: 1_500, total: 10_000)
            while flood.done < Int(Self.floodRate) && !flood.isStopped { try await Task.sleep(for: .milliseconds(100)) }
            return ({ flood.finish(10_000, within: 30) }, { "\(flood.done) connections opened at \(Int(Self.floodRate))/s" + Self.tcpCounters(node) })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("empty connections from the honest stranger's own network", attack: { node, _ in
            let flood = Self.emptyConnections(to: node.port, from: { i in "127.3.0.\(2 + i % 200)" }, keepOpen: 500, total: 10_000)
            while flood.done < Int(Self.floodRate) && !flood.isStopped { try await Task.sleep(for: .milliseconds(100)) }
            return ({ flood.finish(10_000, within: 30) }, { "\(flood.done) connections opened at \(Int(Self.floodRate))/s" + Self.tcpCounters(node) })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("40 strangers' conversation opens the policy refuses", attack: { node, _ in
            let target = try Identity(did: node.did)
            let flood = Flood { flood, _ in
                for i in 0..<40 where !flood.isStopped {
                    guard let fd = try? RawClient.connect(port: node.port, from: "127.5.\(i).1") else { continue }
                    let credentials = Self.credentials()
                    guard var session = RawClient.session(fd, credentials: credentials, expected: target) else { close(fd); continue }
                    let speaker = Speaker(key: credentials.signing)
                    let header = ConversationHeader(from: speaker.identity, to: target, topic: "spam", ts: WallClock.system.now(), net: .main,
                                                    maxTurns: 500).signed(with: speaker.key)
                    guard var log = try? ConversationLog(header: header),
                          let entry = try? speaker.say(in: &log, text: "hi", ts: WallClock.system.now()),
                          let bytes = try? session.send(.conversation(.open(header: header, entry: entry, manifest: speaker.manifest))) else { continue }
                    RawClient.send(fd, bytes)
                    flood.add()
                    usleep(20_000)
                    close(fd)
                }
            }
            while flood.done < 40 && !flood.isStopped { try await Task.sleep(for: .milliseconds(100)) }
            return ({ flood.stop() }, {
                let status = Self.status(node)
                let c = status["conversations"] as? [String: Int] ?? [:]
                let dialled = (status["tcp"] as? [String: Int])?["dialled"] ?? -1
                #expect(c["opened"] == 2 && dialled == 0, "refused opens are not counted, and their senders are not dialled")
                return "\(flood.done) opens sent; node: \(c["refused", default: 0]) refused, \(c["refusals_rate_limited", default: 0]) more dropped, "
                    + "\(c["opened", default: 0]) counted (the honest two), \(dialled) dials"
            })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("2,000 strangers' friend requests from 125 networks", attack: { node, _ in
            let target = try Identity(did: node.did)
            let flood = Flood { flood, _ in
                for i in 0..<2_000 where !flood.isStopped {
                    guard let fd = try? RawClient.connect(port: node.port, from: "127.6.\(i % 125).\(1 + i / 125)") else { continue }
                    let credentials = Self.credentials()
                    if var session = RawClient.session(fd, credentials: credentials, expected: target) {
                        let speaker = Speaker(key: credentials.signing)
                        let record = ConnectionRecord(signer: speaker.identity, other: target, ts: WallClock.system.now()).signed(with: speaker.key)
                        if let bytes = try? session.send(.friend(.request(record: record, manifest: speaker.manifest))) {
                            RawClient.send(fd, bytes)
                            flood.add()
                        }
                    }
                    close(fd)
                }
            }
            while flood.done < 2_000 && !flood.isStopped { try await Task.sleep(for: .milliseconds(200)) }
            let asked = Date()
            let status = Self.status(node)
            let took = Date().timeIntervalSince(asked)
            #expect(status["pendingRequests"] as? Int == 1_000 && took < 1, "\(status["pendingRequests"] ?? "no status") pending; status in \(took) s")
            return ({ flood.stop() }, {
                String(format: "%d requests; %d kept for the person; `kith status` answers in %.2f s", flood.done, status["pendingRequests"] as? Int ?? -1, took)
            })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("5,000 strangers' sessions (hello, then gone)", attack: { node, _ in
            let target = try Identity(did: node.did)
            let flood = Flood { flood, _ in
                for i in 0..<5_000 where !flood.isStopped {
                    guard let fd = try? RawClient.connect(port: node.port, from: "127.7.\(i % 100).\(1 + i / 100)") else { continue }
                    if RawClient.session(fd, credentials: Self.credentials(), expected: target) != nil { flood.add() }
                    close(fd)
                }
            }
            while flood.done < 4_900 && !flood.isStopped { try await Task.sleep(for: .milliseconds(200)) }
            let known = Self.status(node)["knownManifests"] as? Int ?? -1
            #expect((0...2).contains(known), "\(known) manifests kept after strangers' hellos")
            return ({ flood.stop() }, { "\(flood.done) sessions; \(known) manifests kept (the honest peers')" })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("20,000 UDP announces from 2,000 sources", udp: true, attack: { node, _ in
            let status = try JSONSerialization.jsonObject(with: Data(try CLI.run(["status", "--json", "--home", node.home]).stdout.utf8)) as? [String: Any]
            let udpPort = Int((status?["udp"] as? String)?.split(separator: ":").last ?? "") ?? 0
            let flood = Flood { flood, _ in
                for source in 0..<2_000 where !flood.isStopped {
                    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
                    defer { close(fd) }
                    guard RawClient.bind(fd, to: "127.8.\(source / 250).\(1 + source % 250)") else { continue }
                    var addr = sockaddr_in()
                    addr.sin_family = sa_family_t(AF_INET)
                    addr.sin_port = in_port_t(UInt16(udpPort).bigEndian)
                    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                    for _ in 0..<10 {
                        let key = NodeKeys.generate()
                        let packet = Datagram(from: key.identity, net: .main, ts: WallClock.system.now(),
                                              kind: .announce(tcpPort: 9, seq: 1, hash: [UInt8](repeating: 1, count: 32))).packet(signedWith: key.signing)
                        _ = withUnsafePointer(to: &addr) { a in
                            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { to in
                                packet.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, to, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                            }
                        }
                        flood.add()
                    }
                }
            }
            while flood.done < 20_000 && !flood.isStopped { try await Task.sleep(for: .milliseconds(200)) }
            try await Task.sleep(for: .milliseconds(500))
            let after = try JSONSerialization.jsonObject(with: Data(try CLI.run(["status", "--json", "--home", node.home]).stdout.utf8)) as? [String: Any]
            let discovered = (after?["udpCounters"] as? [String: Any])?["discovered"] as? Int ?? -1
            return ({ flood.stop() }, { "\(flood.done) datagrams; \(discovered) nodes remembered" })
        }) { rows.append(row) }

        if let row = try await Self.runIfWanted("a silent friend that is the designated push parent", attack: { node, friend in
            let delay = try await Self.updateDelayPastSilentParent(node, friend)
            return ({}, { String(format: "%.1f s from a friend of a friend signing an update to the node holding it", delay) })
        }) {
            rows.append(row)
            let delay = Double(row.note.split(separator: " ").first ?? "") ?? .infinity
            #expect(delay < 5, "an update waited \(delay) s for a silent push parent")
        }

        print("\n| attack | stranger's set-up (150 ms away, median of 3) | friend converses | stranger converses | node RSS growth | idle after | measured |")
        print("|---|---|---|---|---|---|---|")
        for r in rows {
            print("| \(r.attack) | \(String(format: "%.2f s", r.setup)) | \(r.friendTalked ? "yes" : "NO") | \(r.strangerTalked ? "yes" : "NO") | "
                  + "\(String(format: "%.1f MiB", r.rssGrowthMiB)) | \(String(format: "%.2f s", r.idleAfter)) | \(r.note) |")
        }
        for r in rows {
            #expect(r.setup < 1, "\(r.attack): set-up \(r.setup) s")
            #expect(r.friendTalked && r.strangerTalked, "\(r.attack)")
            #expect(r.rssGrowthMiB < 50, "\(r.attack): \(r.rssGrowthMiB) MiB")
            #expect(r.idleAfter <= 5, "\(r.attack): idle after \(r.idleAfter) s")
        }
    }
}
