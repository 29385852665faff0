import Foundation
import Glibc
import KithCrypto
import KithModel
import KithNet
import KithNode
import KithProtocol
import KithStore
import KithTestSupport
import Logging
import Testing

/// Red team 15b: reach by key at the node, control and CLI layers (the engine was red-teamed in
/// `KithDHTTests/RedTeam15Tests`). Loopback only; every wait is bounded.
@Suite("Red team 15b: the DHT at the node and control layers", .serialized)
struct RedTeam15bNodeTests {
    // MARK: - Helpers

    /// A node from `Examples/EXAMPLE.yaml` with the DHT on (127.0.0.1, a free port), joining
    /// through `bootstrap`.
    static func start(_ example: String, connect policy: String? = "auto", bootstrap: [String] = []) async throws -> RunningNode {
        let home = NodeHome(path: try Fixtures.temporaryDirectory("kn15b").appendingPathComponent("h").path)
        var yaml = try String(contentsOf: Fixtures.repoFile("Examples/\(example).yaml"), encoding: .utf8)
        if let policy { yaml = yaml.replacingOccurrences(of: "connect: ask", with: "connect: \(policy)") }
        let source = try Fixtures.temporaryDirectory().appendingPathComponent("\(example).yaml")
        try yaml.write(to: source, atomically: true, encoding: .utf8)
        _ = try NodeHome.initialise(at: home, name: nil, modelSource: source.path, network: "main", passphrase: nil, cost: .interactive)
        var options = RunOptions()
        options.listenPort = 0
        options.redialInterval = 0.3
        var dht = DHTOptions(host: "127.0.0.1", port: 0, bootstrap: bootstrap)
        dht.maintenanceInterval = 0.5
        options.dht = dht
        var logger = Logger(label: "rt15b")
        logger.logLevel = .critical
        let runtime = try NodeRuntime(context: try home.open(passphrase: nil), options: options, logger: logger)
        let ready = try await runtime.start()
        return RunningNode(home: home, runtime: runtime, port: ready.port)
    }

    /// A UDP socket on 127.0.0.1 that never answers (a DHT node that swallows queries).
    static func udpSocket() -> LoopbackUDP { LoopbackUDP() }

    static func sendUDP(_ fd: Int32, _ bytes: [UInt8], to port: Int) {
        LoopbackUDP.send(from: fd, bytes, to: port)
    }

    /// A KRPC ping with transaction id `t`.
    static func ping(_ t: String) -> [UInt8] {
        Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t\(t.utf8.count):\(t)1:y1:qe".utf8)
    }

    /// True when a KRPC response carrying transaction `t` arrives on `fd` within `seconds`.
    static func answered(_ fd: Int32, _ t: String, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 2_048)
        // "y" = "r" and our transaction id ("v" sits between "t" and "y" in an answer).
        let needle = Array("1:t\(t.utf8.count):\(t)".utf8), reply = Array("1:y1:r".utf8)
        while Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { continue }
            let got = Array(buffer[0..<n])
            func has(_ x: [UInt8]) -> Bool { got.count >= x.count && (0...(got.count - x.count)).contains { Array(got[$0..<($0 + x.count)]) == x } }
            if has(needle), has(reply) { return true }
        }
        return false
    }

    /// Sends a ping with transaction `t` every 300 ms until answered (true) or `seconds` pass.
    static func pingAnswered(_ fd: Int32, port: Int, _ t: String, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            sendUDP(fd, ping(t), to: port)
            if answered(fd, t, within: 0.3) { return true }
        }
        return false
    }

    static func dhtPort(_ node: RunningNode) async -> Int? {
        guard let listen = await node.runtime.status().dht?.listen, let colon = listen.lastIndex(of: ":") else { return nil }
        return Int(listen[listen.index(after: colon)...])
    }

    /// A value set once by a task that may never end (so the test can give up on it).
    actor Box<T: Sendable> {
        var value: T?
        func set(_ v: T) { value = v }
    }

    /// Waits up to `seconds` for `box` to be filled.
    static func wait<T: Sendable>(_ box: Box<T>, _ seconds: Double) async -> T? {
        let deadline = Date().addingTimeInterval(seconds * Fixtures.timeScale)
        while Date() < deadline {
            if let v = await box.value { return v }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await box.value
    }

    /// Mallory, a hostile peer, befriends `node` (policy auto); returns her session and inbox.
    static func befriend(_ node: RunningNode) async throws -> (HostilePeer, PeerConnection, Inbox) {
        let mallory = try HostilePeer.make()
        let inbox = Inbox(mallory.transport)
        let conn = try await mallory.transport.dial(host: "127.0.0.1", port: node.port, expected: node.identity)
        let record = ConnectionRecord(signer: mallory.identity, other: node.identity, ts: WallClock.system.now()).signed(with: mallory.key)
        try await conn.send(.friend(.request(record: record, manifest: mallory.speaker.manifest)))
        let friends = await eventually(10) { await node.runtime.relationship(with: mallory.identity) == .friends }
        #expect(friends, "Mallory never became a friend; the rest proves nothing")
        return (mallory, conn, inbox)
    }

    // MARK: - Shutdown during a lookup

    /// `kith connect DID?dht=KEY` looks the peer up in the DHT (first its friends record with the
    /// invite's key, then its public record). The node stops while the first lookup runs: the
    /// DHT service ends it, and the second lookup then starts on a service already shut down —
    /// no tick ever ends it, so `connect` must still return (it must not hang forever).
    @Test func stopWhileConnectByKeyLooksUpTheDHTDoesNotLeaveConnectHanging() async throws {
        let silent = Self.udpSocket()
        defer { silent.close() }
        let ada = try await Self.start("ada", bootstrap: ["127.0.0.1:\(silent.port)"])
        try await Task.sleep(for: .milliseconds(500))  // the bootstrap address is set
        let stranger = Identity(publicKey: Ed25519.KeyPair.generate().publicKey)
        let box = Box<ConnectOutcome>()
        let runtime = ada.runtime
        Task { await box.set(await runtime.connect(to: stranger, host: nil, port: nil, inviteKey: Random.bytes(64))) }
        try await Task.sleep(for: .milliseconds(700))  // the friends-record lookup is in flight (2 s query timeout)
        await ada.runtime.stop()
        let outcome = await Self.wait(box, 15)
        #expect(outcome != nil, "connect by key never returned after the node stopped: a DHT lookup started after DHTService.shutdown() waits forever")
        #expect(outcome.map { $0.outcome == .failed } ?? true)
    }

    /// The control for the test above: without an invite key `connect` makes one DHT lookup (the
    /// public record), which shutdown ends, so `connect` returns once the node stops.
    @Test func stopWhileConnectByKeyWithoutAnInviteKeyLooksUpTheDHTReturns() async throws {
        let silent = Self.udpSocket()
        defer { silent.close() }
        let ada = try await Self.start("ada", bootstrap: ["127.0.0.1:\(silent.port)"])
        try await Task.sleep(for: .milliseconds(500))
        let stranger = Identity(publicKey: Ed25519.KeyPair.generate().publicKey)
        let box = Box<ConnectOutcome>()
        let runtime = ada.runtime
        Task { await box.set(await runtime.connect(to: stranger, host: nil, port: nil)) }
        try await Task.sleep(for: .milliseconds(700))
        await ada.runtime.stop()
        let outcome = await Self.wait(box, 15)
        #expect(outcome?.outcome == .failed, "connect by key without a key did not return after stop")
    }

    // MARK: - Garbage on the DHT port

    /// Empty, tiny, oversized (over 1,500 bytes, up to 65,000), deeply nested, overflowing and
    /// random datagrams on the DHT port: none is answered, and an honest ping still is; the node
    /// keeps serving its control commands.
    @Test func garbageAndOversizedDatagramsOnTheDHTPortLeaveTheNodeServing() async throws {
        let ada = try await Self.start("ada")
        guard let port = await Self.dhtPort(ada) else {
            Issue.record("no DHT listen address in status")
            return await ada.runtime.stop()
        }
        let client = Self.udpSocket()
        defer { client.close() }
        #expect(Self.pingAnswered(client.fd, port: port, "p0", within: 2), "an honest ping before the junk")
        let before = await ada.runtime.status().dht?.traffic["malformed"] ?? 0
        var junk: [[UInt8]] = [[], [0x64], [0x64, 0x65], Random.bytes(1_500), Random.bytes(1_501), Random.bytes(9_000), Random.bytes(65_000),
                               Array(repeating: 0x64, count: 1_400), Array(repeating: 0x6c, count: 700) + Array(repeating: 0x65, count: 700),
                               Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:zz1:y1:qee".utf8),  // trailing byte
                               Array("d1:t2:zz1:y1:q1:q4:ping1:ad2:id20:abcdefghij0123456789ee".utf8),   // unsorted keys
                               Array("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t99999999999999999999:zz1:y1:qe".utf8),
                               Array("d1:ai99999999999999999999999e1:q4:ping1:t2:zz1:y1:qe".utf8),
                               Array("d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:zz1:y1:qe".utf8)]  // short id
        for _ in 0..<2_000 { junk.append(Random.bytes(Int.random(in: 1...1_500))) }
        for datagram in junk { Self.sendUDP(client.fd, datagram, to: port) }
        #expect(!Self.answered(client.fd, "zz", within: 1), "a malformed query was answered")
        #expect(Self.pingAnswered(client.fd, port: port, "p1", within: 3),
                "an honest ping after the junk went unanswered")
        let after = await ada.runtime.status().dht?.traffic["malformed"] ?? 0
        #expect(after - before >= 10, "junk counted malformed: \(before) -> \(after)")
        #expect(await ada.runtime.status().id == ada.identity.did)
        await ada.runtime.stop()
    }

    // MARK: - where-is, is-at and dht-key from a hostile friend

    /// A friend sends 3,000 `where-is` at once (about strangers, about itself, about the node):
    /// the node answers at most one `is-at` each, every answer empty, and it keeps serving.
    @Test func aFriendFloodingWhereIsGetsAtMostOneEmptyAnswerEachAndTheNodeKeepsServing() async throws {
        let ben = try await Self.start("ben")
        let (mallory, conn, inbox) = try await Self.befriend(ben)
        let targets = (0..<2_998).map { _ in Identity(publicKey: Ed25519.KeyPair.generate().publicKey) } + [mallory.identity, ben.identity]
        let started = Date()
        for target in targets { try await conn.send(.whereIs(peer: target)) }
        // The node still answers its person while the flood is handled.
        let statusStarted = Date()
        #expect(await ben.runtime.status().id == ben.identity.did)
        #expect(Date().timeIntervalSince(statusStarted) < 5, "status took \(Date().timeIntervalSince(statusStarted)) s during the flood")
        _ = await eventually(20) { await inbox.types(from: ben.identity).filter { $0 == "is-at" }.count >= targets.count }
        let answers = await inbox.received(from: ben.identity).compactMap { message -> (Identity, [String])? in
            if case .isAt(let peer, let endpoints) = message { return (peer, endpoints) } else { return nil }
        }
        #expect(answers.count <= targets.count, "\(answers.count) is-at for \(targets.count) where-is")
        #expect(answers.allSatisfy { $0.1.isEmpty }, "an is-at named endpoints for a stranger, the asker or the node itself")
        print("RedTeam15b: \(answers.count) is-at for \(targets.count) where-is in \(Date().timeIntervalSince(started)) s; connection active: \(conn.isActive)")
        #expect(await ben.runtime.status().id == ben.identity.did)
        await mallory.shutdown()
        await ben.runtime.stop()
    }

    /// A friend's `is-at` for a peer the node never asked about is not used when the node later
    /// looks that peer up; a solicited answer is (the positive control). `dht-key`s of 63 and 65
    /// bytes are refused, a later good one is kept, and the session survives all of it.
    @Test func unsolicitedIsAtIsIgnoredAndMalformedDHTKeysAreNotKept() async throws {
        let ben = try await Self.start("ben")
        let (mallory, conn, inbox) = try await Self.befriend(ben)
        let listener = try Self.tcpListener()
        defer { close(listener.fd) }
        let lure = "tcp://127.0.0.1:\(listener.port)"
        let target = Identity(publicKey: Ed25519.KeyPair.generate().publicKey)

        // Unsolicited: nobody asked where `target` is.
        try await conn.send(.isAt(peer: target, endpoints: [lure]))
        try await Task.sleep(for: .milliseconds(300))
        let outcome = await ben.runtime.connect(to: target, host: nil, port: nil)
        #expect(outcome.outcome == .failed)
        #expect(Self.accepted(listener.fd) == 0, "the node dialled an address from an is-at it never asked for")

        // Solicited (after the 20 s rate limit does not apply: connect forces the lookup): Mallory
        // answers Ben's where-is, and Ben dials the hint (the handshake then fails, as it must).
        let box = Box<ConnectOutcome>()
        let runtime = ben.runtime
        Task { await box.set(await runtime.connect(to: target, host: nil, port: nil)) }
        let asked = await eventually(5) { await inbox.received(from: ben.identity).contains { if case .whereIs(let p) = $0 { p == target } else { false } } }
        #expect(asked, "Ben did not ask his friend where the peer is")
        try await conn.send(.isAt(peer: target, endpoints: [lure]))
        let dialled = await eventually(5) { Self.accepted(listener.fd) > 0 }
        #expect(dialled, "positive control: a solicited is-at was not used")
        #expect(await Self.wait(box, 30)?.outcome == .failed)

        // dht-key: 63 and 65 bytes are malformed and not kept; a good one is.
        let store = try ben.home.open(passphrase: nil).store
        try await conn.send(.dhtKey(key: Random.bytes(63)))
        try await conn.send(.dhtKey(key: Random.bytes(65)))
        try await conn.send(.dhtKey(key: []))
        try await Task.sleep(for: .milliseconds(500))
        #expect(((try? store.dhtRecordKey(of: mallory.identity)) ?? nil) == nil, "a dht-key that is not 64 bytes was kept")
        let good = Random.bytes(64)
        try await conn.send(.dhtKey(key: good))
        #expect(await eventually { ((try? store.dhtRecordKey(of: mallory.identity)) ?? nil) == good }, "a good dht-key after bad ones was not kept")
        #expect(conn.isActive)
        // The node's own record key is untouched by any of it (it is kept under its own identity).
        #expect(((try? store.dhtRecordKey(of: ben.identity)) ?? nil)?.count == 32)
        await mallory.shutdown()
        await ben.runtime.stop()
    }

    static func tcpListener() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0,
              listen(fd, 16) == 0
        else { close(fd); throw CocoaError(.fileWriteUnknown) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: bound.sin_port)))
    }

    /// Connections accepted (and closed) on a non-blocking listener so far; counted cumulatively.
    nonisolated(unsafe) static var acceptedSoFar: [Int32: Int] = [:]
    static func accepted(_ fd: Int32) -> Int {
        while true {
            let c = accept(fd, nil, nil)
            guard c >= 0 else { break }
            close(c)
            acceptedSoFar[fd, default: 0] += 1
        }
        return acceptedSoFar[fd] ?? 0
    }

    // MARK: - Hostile control commands

    /// Raw JSON lines on the control socket for `connect` and `resolve`: bad ports, a host
    /// without a port, bad dht keys (empty, uppercase, one character short, trailing space,
    /// non-zero padding, a number), a huge did, the node's own did by key. Each gets an error or
    /// a failed outcome within 15 s; the node keeps serving.
    @Test func hostileConnectAndResolveControlLinesGetAnErrorOrAFailureAndTheNodeKeepsServing() async throws {
        let ada = try await Self.start("ada")
        let invite = try await ada.runtime.invite()
        guard let q = invite.range(of: "?dht=") else {
            Issue.record("no ?dht= in the invite: \(invite)")
            return await ada.runtime.stop()
        }
        let key = String(invite[q.upperBound...].prefix { $0 != "@" })
        #expect(key.count == 103)
        let other = Identity(publicKey: Ed25519.KeyPair.generate().publicKey).did
        let me = ada.identity.did
        // The last character carries 3 padding bits: flip one of them (still in the alphabet).
        let alphabet = Array("ybndrfg8ejkmcpqxot1uwisza345h769")
        let last = alphabet.firstIndex(of: key.last!)!
        let badPadding = String(key.dropLast()) + String(alphabet[last ^ 1])
        func json(_ value: String) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: value, options: .fragmentsAllowed), as: UTF8.self)
        }
        let lines: [(String, String)] = [
            ("port 0", #"{"cmd":"connect","did":"\#(other)","host":"127.0.0.1","port":0}"#),
            ("port -1", #"{"cmd":"connect","did":"\#(other)","host":"127.0.0.1","port":-1}"#),
            ("port 70000", #"{"cmd":"connect","did":"\#(other)","host":"127.0.0.1","port":70000}"#),
            ("port 1e30", #"{"cmd":"connect","did":"\#(other)","host":"127.0.0.1","port":1e30}"#),
            ("port as text", #"{"cmd":"connect","did":"\#(other)","host":"127.0.0.1","port":"7400"}"#),
            ("host without port", #"{"cmd":"connect","did":"\#(other)","host":"127.0.0.1"}"#),
            ("port without host", #"{"cmd":"connect","did":"\#(other)","port":7400}"#),
            ("empty host", #"{"cmd":"connect","did":"\#(other)","host":"","port":9}"#),
            ("empty dht", #"{"cmd":"connect","did":"\#(other)","dht":""}"#),
            ("uppercase dht", #"{"cmd":"connect","did":"\#(other)","dht":"\#(key.uppercased())"}"#),
            ("short dht", #"{"cmd":"connect","did":"\#(other)","dht":"\#(key.dropLast())"}"#),
            ("dht with a space", #"{"cmd":"connect","did":"\#(other)","dht":"\#(key) "}"#),
            ("dht with padding bits", #"{"cmd":"connect","did":"\#(other)","dht":"\#(badPadding)"}"#),
            ("dht as a number", #"{"cmd":"connect","did":"\#(other)","dht":5}"#),
            ("dht with a question mark", #"{"cmd":"connect","did":"\#(other)","dht":"\#(key)?dht=\#(key)"}"#),
            ("huge did", #"{"cmd":"connect","did":\#(json("did:key:z" + String(repeating: "6", count: 60_000)))}"#),
            ("did with the invite in it", #"{"cmd":"connect","did":"\#(invite)"}"#),
            ("own did by key", #"{"cmd":"connect","did":"\#(me)","dht":"\#(key)"}"#),
            ("own did at own address", #"{"cmd":"connect","did":"\#(me)","host":"127.0.0.1","port":\#(ada.port)}"#),
            ("resolve empty dht", #"{"cmd":"resolve","did":"\#(other)","dht":""}"#),
            ("resolve bad padding", #"{"cmd":"resolve","did":"\#(other)","dht":"\#(badPadding)"}"#),
            ("resolve huge did", #"{"cmd":"resolve","did":\#(json("did:key:z" + String(repeating: "6", count: 60_000)))}"#),
            ("resolve without did", #"{"cmd":"resolve"}"#),
        ]
        let socket = ada.home.controlSocket
        for (label, line) in lines {
            let box = Box<String>()
            Task {
                let answer: String
                do {
                    answer = try await ControlConnection.open(socket: socket) { connection in
                        try await connection.send(line: line)
                        guard let reply = try await connection.next(ControlLine<ConnectOutcome>.self) else { return "closed" }
                        switch reply {
                        case .error(let message): return "error: \(message)"
                        case .ok(let outcome): return "ok: \(outcome.outcome.rawValue): \(outcome.message)"
                        case .event: return "event"
                        }
                    }
                } catch {
                    answer = "thrown: \(error)"
                }
                await box.set(answer)
            }
            let answer = await Self.wait(box, 15)
            print("RedTeam15b control: \(label) -> \(answer.map { String($0.prefix(140)) } ?? "no answer")")
            #expect(answer != nil, "\(label): no answer within 15 s")
            if let answer {
                #expect(answer.hasPrefix("error") || answer.hasPrefix("ok: failed"), "\(label): \(answer)")
            }
        }
        // Resolve of its own did and with its own invite key: an answer, not a hang.
        let own = Box<ResolveReport>()
        let runtime = ada.runtime
        let keyBytes = ZBase32Test.decode(key)
        Task { await own.set(await runtime.resolve(ada.identity, inviteKey: keyBytes)) }
        let report = await Self.wait(own, 15)
        #expect(report != nil, "resolve of the node's own did never answered")
        #expect(await ada.runtime.status().id == me, "the node stopped serving")
        await ada.runtime.stop()
    }
}

/// z-base-32 decoding for the tests (KithDHT is not a dependency of this target).
enum ZBase32Test {
    static func decode(_ text: String) -> [UInt8]? {
        let alphabet = Array("ybndrfg8ejkmcpqxot1uwisza345h769".utf8)
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            buffer = buffer << 5 | UInt32(v)
            bits += 5
            if bits >= 8 { out.append(UInt8(buffer >> UInt32(bits - 8) & 0xff)); bits -= 8 }
            buffer &= (1 << UInt32(bits)) - 1
        }
        return out
    }
}
