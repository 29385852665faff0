import Foundation
import KithTestSupport
import Testing

/// Issue 15 against running nodes: `kith run` joins a private DHT of 12 libtorrent nodes on
/// loopback, publishes its record, and people reach each other by key alone.
@Suite("Reach by key through the Mainline DHT", .serialized, .offCooperativePool)
struct DHTReachTests {
    static let python = ProcessInfo.processInfo.environment["KITH_INTEROP_PYTHON"]

    /// A home for `example` with `policy.connect: auto` and the given `policy.dht`.
    static func home(_ example: String, dht: String) throws -> String {
        let dir = try Fixtures.temporaryDirectory("kith-dht")
        let yaml = try String(contentsOf: Fixtures.repoFile("Examples/\(example).yaml"), encoding: .utf8)
            .replacingOccurrences(of: "connect: ask", with: "connect: auto\n  dht: \(dht)")
        let model = dir.appendingPathComponent("\(example).yaml").path
        try yaml.write(toFile: model, atomically: true, encoding: .utf8)
        let home = dir.appendingPathComponent("home").path
        let result = try CLI.run(["init", "--home", home, "--from", model])
        guard result.status == 0 else { throw NodeProcessError(message: "init failed: \(result.stderr)") }
        return home
    }

    static func start(_ home: String, host: String, lab: LibtorrentLab) throws -> NodeProcess {
        let bootstrap = lab.nodes.prefix(4).map { "\($0.host):\($0.port)" }.joined(separator: ",")
        return try NodeProcess(example: "", home: home, extraArguments: ["--dht-bootstrap", bootstrap, "--dht-listen", "\(host):0"],
                               listen: "\(host):0")
    }

    static func status(_ home: String) throws -> [String: Any] {
        let result = try CLI.run(["status", "--json", "--home", home])
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    static func published(_ home: String) throws -> Bool {
        let dht = try status(home)["dht"] as? [String: Any]
        return ((dht?["lastPublish"] as? [String: Any])?["stored"] as? Int ?? 0) >= 4
    }

    static func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            if try condition() { return Date().timeIntervalSince(start) }
            usleep(250_000)
        }
        return nil
    }

    @Test(.enabled(if: python != nil)) func peopleReachEachOtherByKeyAndFindMovedFriends() throws {
        let lab = try LibtorrentLab(python: Self.python!, first: 100)
        defer { lab.stop() }
        let adaHome = try Self.home("ada", dht: "public"), benHome = try Self.home("ben", dht: "friends")
        let cleoHome = try Self.home("cleo", dht: "friends")
        var ada = try Self.start(adaHome, host: "127.60.0.1", lab: lab)
        var ben = try Self.start(benHome, host: "127.61.0.1", lab: lab)
        let cleo = try Self.start(cleoHome, host: "127.62.0.1", lab: lab)
        defer { _ = ada.stop(); _ = ben.stop(); _ = cleo.stop() }
        #expect(try Self.waitUntil(30) { try Self.published(adaHome) && Self.published(benHome) } != nil, "both nodes publish their record")

        // Ada publishes a public (pkarr) record: anyone resolves it and connects by key alone.
        let resolved = try CLI.run(["resolve", ada.did, "--home", cleoHome])
        #expect(resolved.status == 0 && resolved.stdout.contains("public record") && resolved.stdout.contains("tcp=\(ada.address)"), "\(resolved.stdout)")
        let byKey = try CLI.run(["connect", ada.did, "--home", benHome])
        #expect(byKey.status == 0 && byKey.stdout.hasPrefix("accepted"), "\(byKey.stdout) \(byKey.stderr)")

        // Ben publishes only to friends: a stranger finds nothing, an invite holder reads it.
        let hidden = try CLI.run(["resolve", ben.did, "--home", cleoHome])
        #expect(hidden.status != 0 && hidden.stdout.contains("no record found"), "\(hidden.stdout)")
        let invite = try CLI.run(["invite", "--home", benHome]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(invite.hasPrefix(ben.did + "?dht=") && !invite.contains("@"), "a key-only invite: \(invite)")
        let withInvite = try CLI.run(["resolve", invite, "--home", cleoHome])
        #expect(withInvite.stdout.contains("friends record") && withInvite.stdout.contains("tcp=\(ben.address)"), "\(withInvite.stdout)")

        // Both restart on new addresses (and new DHT ports): they find each other within 60 s,
        // Ada through Ben's friends record (its key came over their session), Ben through Ada's.
        let oldBen = ben.address
        _ = ada.stop(); _ = ben.stop()
        ada = try Self.start(adaHome, host: "127.63.0.1", lab: lab)
        ben = try Self.start(benHome, host: "127.64.0.1", lab: lab)
        #expect(ben.address != oldBen)
        let found = try Self.waitUntil(60) {
            let adaConnected = try Self.status(adaHome)["connected"] as? Int
            let benConnected = try Self.status(benHome)["connected"] as? Int
            return adaConnected == 1 && benConnected == 1
        }
        #expect(found != nil, "moved friends reconnect by key within 60 s")
        print("dht-reach: moved friends reconnected after \(found.map { String(format: "%.1f", $0) } ?? "-") s")
        // Whichever side dialled found the other in the DHT (no friend was online to ask).
        let adaResolve = (try Self.status(adaHome)["dht"] as? [String: Any])?["lastResolve"] as? [String: Any]
        let benResolve = (try Self.status(benHome)["dht"] as? [String: Any])?["lastResolve"] as? [String: Any]
        #expect(adaResolve?["source"] as? String == "dht-friends" || benResolve?["source"] as? String == "dht-public",
                "\(String(describing: adaResolve)) \(String(describing: benResolve))")
        let peers = try CLI.run(["peers", "--home", adaHome]).stdout
        #expect(peers.contains(ben.address), "\(peers)")

        // Ben removes Ada: his record key changes and the record under the old one is emptied;
        // Ada (old key) and the old invite read no address any more.
        #expect(try Self.waitUntil(20) { try Self.published(benHome) } != nil)
        #expect(try CLI.run(["unfriend", ada.did, "--home", benHome]).status == 0)
        let cutOff = try Self.waitUntil(30) {
            let r = try CLI.run(["resolve", invite, "--home", cleoHome]).stdout
            return !r.contains("tcp=")
        }
        #expect(cutOff != nil, "the old key reads no address after an unfriending")
        let newInvite = try CLI.run(["invite", "--home", benHome]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newInvite != invite)
        #expect(try Self.waitUntil(30) { try CLI.run(["resolve", newInvite, "--home", cleoHome]).stdout.contains("tcp=\(ben.address)") } != nil,
                "the new key reads the current address")
    }
}
