import Foundation
import KithCrypto
import KithModel
import KithProtocol

/// `kith bench`: every figure measured next to its baseline in the same process run.
public enum Benchmarks {
    /// The benchmark groups, in the order they run; `--only` picks among them.
    public static let groups = ["handshake", "transport", "flood", "audit", "turn", "engine", "gossip", "node", "dht", "relay"]

    /// Runs the benchmarks; `quick` uses fewer iterations, `only` (group names) restricts the
    /// run. `progress` receives one line per step.
    public static func run(quick: Bool, only: Set<String> = [], progress: (String) -> Void) async throws -> BenchReport {
        let scale = quick ? 1 : 5
        func wanted(_ group: String) -> Bool { only.isEmpty || only.contains(group) }
        var results: [BenchResult] = []
        progress("baselines: raw libsodium X25519, Ed25519")
        let crypto = CryptoBaselines.measure(iterations: 400 * scale)
        if wanted("handshake") {
            progress("handshake: Noise XX + identity proofs, both sides in one thread")
            results += try HandshakeBench.measure(iterations: 200 * scale, crypto: crypto)
        }
        if wanted("transport") {
            results += try await TransportBench.measure(megabytes: quick ? 64 : 256, roundTrips: quick ? 300 : 2000, progress: progress)
        }
        if wanted("flood") { results += try await FloodBench.measure(flood: 10_000, progress: progress) }
        if wanted("audit") { results.append(try ConversationBench.audit(entries: quick ? 20_000 : 100_000, progress: progress)) }
        if wanted("turn") { results += try await ConversationBench.turns(quick ? 200 : 1000, progress: progress) }
        if wanted("engine") {
            results += try await EngineBench.measure(conversations: quick ? 40 : 200, manyMemories: quick ? 500 : 2_000, progress: progress)
        }
        if wanted("gossip") { results += try GossipBench.measure(nodes: quick ? 1_000 : 10_000, progress: progress) }
        if wanted("node") { results += try await NodeBench.measure(peers: quick ? 100 : 1_000, progress: progress) }
        if wanted("dht") {
            results += try await DHTBench.measure(nodes: quick ? 16 : 32, resolves: quick ? 30 : 200, progress: progress)
        }
        if wanted("relay") { results += try await RelayBench.measure(megabytes: quick ? 32 : 128, roundTrips: quick ? 300 : 1000, progress: progress) }
        var machine: [String: String] = [
            "cores": "\(ProcessInfo.processInfo.activeProcessorCount)",
            "memory_gib": String(format: "%.1f", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824),
            "os": ProcessInfo.processInfo.operatingSystemVersionString,
        ]
        #if DEBUG
        machine["build"] = "debug (figures are not meaningful: use `swift build -c release`)"
        #else
        machine["build"] = "release"
        #endif
        machine["x25519_keygen_us"] = String(format: "%.1f", crypto.keygen * 1e6)
        machine["x25519_dh_us"] = String(format: "%.1f", crypto.dh * 1e6)
        machine["ed25519_sign_us"] = String(format: "%.1f", crypto.sign * 1e6)
        machine["ed25519_verify_us"] = String(format: "%.1f", crypto.verify * 1e6)
        return BenchReport(machine: machine, results: results)
    }
}

/// Raw libsodium costs, seconds per operation.
struct CryptoBaselines {
    var keygen: Double
    var dh: Double
    var sign: Double
    var verify: Double

    static func measure(iterations: Int) -> CryptoBaselines {
        let a = X25519.KeyPair.generate(), b = X25519.KeyPair.generate()
        let ed = Ed25519.KeyPair.generate()
        let message = [UInt8](repeating: 7, count: 50)
        let sig = ed.sign(message)
        var sink = 0
        let keygen = Stopwatch.secondsPerIteration(iterations: iterations) { sink &+= X25519.KeyPair.generate().publicKey[0] == 0 ? 1 : 0 }
        let dh = Stopwatch.secondsPerIteration(iterations: iterations) {
            sink &+= (try? X25519.sharedSecret(secretKey: a.secretKey, publicKey: b.publicKey))?.count ?? 0
        }
        let sign = Stopwatch.secondsPerIteration(iterations: iterations) { sink &+= Int(ed.sign(message)[0]) }
        let verify = Stopwatch.secondsPerIteration(iterations: iterations) { sink &+= ed.publicKey.isValidSignature(sig, for: message) ? 1 : 0 }
        if sink == -1 { print(sink) }
        return CryptoBaselines(keygen: keygen, dh: dh, sign: sign, verify: verify)
    }

    /// The crypto a handshake needs per side: one key generation, three DH, one sign, one verify.
    var handshakePerSide: Double { keygen + 3 * dh + sign + verify }
}

/// Full handshakes between two in-memory ``SecureSession``s.
enum HandshakeBench {
    static func measure(iterations: Int, crypto: CryptoBaselines) throws -> [BenchResult] {
        let a = try credentials("A"), b = try credentials("B")
        let now: UInt64 = 1_800_000_000_000
        var failures = 0
        // Noise XX with identity proofs (what the bound covers): three messages.
        let handshake = Stopwatch.secondsPerIteration(iterations: iterations) {
            var i = try! NoiseHandshake(pattern: .XX, initiator: true, prologue: a.prologue, localStatic: a.staticKey)
            var r = try! NoiseHandshake(pattern: .XX, initiator: false, prologue: b.prologue, localStatic: b.staticKey)
            do {
                _ = try r.readMessage(try i.writeMessage())
                let p2 = try i.readMessage(try r.writeMessage(payload: b.proof.encoded))
                _ = try IdentityProof(decoding: p2, staticKey: i.remoteStatic ?? [])
                let p3 = try r.readMessage(try i.writeMessage(payload: a.proof.encoded))
                _ = try IdentityProof(decoding: p3, staticKey: r.remoteStatic ?? [])
                _ = try i.split()
                _ = try r.split()
            } catch { failures += 1 }
        }
        // The whole session setup a node performs: handshake, framing and the hello exchange.
        let session = Stopwatch.secondsPerIteration(iterations: iterations) {
            var i = SecureSession(role: .initiator(expected: b.identity), credentials: a)
            var r = SecureSession(role: .responder, credentials: b)
            var toR = i.start().compactMap(bytes)
            var toI: [[UInt8]] = []
            while !toR.isEmpty || !toI.isEmpty {
                for m in toR { toI += r.receive(m, now: now).compactMap(bytes) }
                toR = []
                for m in toI { toR += i.receive(m, now: now).compactMap(bytes) }
                toI = []
            }
            if !(i.isEstablished && r.isEstablished) { failures += 1 }
        }
        guard failures == 0 else { throw BenchError("\(failures) handshakes failed during the benchmark") }
        let bound = 1 / (2 * crypto.handshakePerSide)
        return [
            BenchResult(name: "handshake", value: 1 / handshake, unit: "1/s", baseline: bound, ratio: (1 / handshake) / bound, goal: 0.7,
                        note: "both sides on one core vs 1/(2 × (X25519 keygen + 3 DH + Ed25519 sign + verify)), measured raw"),
            BenchResult(name: "session_setup", value: 1 / session, unit: "1/s", baseline: bound, ratio: (1 / session) / bound, goal: nil,
                        note: "handshake + hellos, framed, vs the same bound"),
        ]
    }

    static func credentials(_ name: String) throws -> SessionCredentials {
        SessionCredentials(signing: .generate(), network: .main)
    }

    static func bytes(_ e: SecureSession.Event) -> [UInt8]? {
        if case .send(let b) = e { return b }
        return nil
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
