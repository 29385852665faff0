import Foundation
import KithModel
import KithTestSupport
import Testing

@Suite("kith run and friends over the CLI", .serialized, .offCooperativePool)
struct RunCommandTests {
    @Test func twoPeopleExchangeInvitesConnectAndSeeEachOther() throws {
        let ada = try NodeProcess(example: "ada")
        let ben = try NodeProcess(example: "ben")
        let invite = try CLI.run(["invite", "--home", ben.home])
        #expect(invite.status == 0)
        #expect(invite.stdout == "\(ben.did)@\(ben.address)\n")

        let connect = try CLI.run(["connect", "--home", ada.home, invite.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
        #expect(connect.status == 0, "\(connect.stderr)")
        // Ben's node told a stranger nothing but its identity: no name until they are friends.
        #expect(connect.stdout.hasPrefix("pending: \(ben.did)"), "\(connect.stdout)")

        let requests = try CLI.run(["requests", "--home", ben.home, "--json"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(requests.stdout.utf8)) as? [[String: Any]])
        #expect(list.first?["id"] as? String == ada.did)
        #expect(list.first?["name"] as? String == "Ada")

        let accept = try CLI.run(["accept", "--home", ben.home, ada.did])
        #expect(accept.stdout.hasPrefix("accepted: Ada"))

        var adaPeers: [[String: Any]] = []
        for _ in 0..<50 {
            let out = try CLI.run(["peers", "--home", ada.home, "--json"]).stdout
            adaPeers = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
            if adaPeers.first?["relationship"] as? String == "friends" { break }
            usleep(100_000)
        }
        #expect(adaPeers.first?["id"] as? String == ben.did)
        #expect(adaPeers.first?["relationship"] as? String == "friends")
        #expect(adaPeers.first?["connected"] as? Bool == true)
        #expect((adaPeers.first?["addresses"] as? [String])?.contains("tcp://\(ben.address)") == true)
        let benPeers = try CLI.run(["peers", "--home", ben.home]).stdout
        #expect(benPeers.contains("Ada  \(ada.did)  friends  connected"))

        let status = try CLI.run(["status", "--home", ada.home, "--json"])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(s["friends"] as? Int == 1)
        #expect(s["connected"] as? Int == 1)

        #expect(ada.stop(signal: SIGINT) == 0, "SIGINT exits cleanly")
        #expect(ben.stop(signal: SIGTERM) == 0, "SIGTERM exits cleanly")
    }

    @Test func friendsAreRememberedAndRedialledAfterRestart() throws {
        let ada = try NodeProcess(example: "ada")
        var cleo = try NodeProcess(example: "cleo")
        let yaml = cleo.home + "/identity.yaml"
        try String(contentsOfFile: yaml, encoding: .utf8).replacingOccurrences(of: "connect: ask", with: "connect: auto")
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        _ = cleo.stop()
        cleo = try NodeProcess(example: "cleo", home: cleo.home)
        let connect = try CLI.run(["connect", "--home", ada.home, "\(cleo.did)@\(cleo.address)"])
        #expect(connect.stdout.hasPrefix("accepted: Cleo"), "\(connect.stdout)\(connect.stderr)")

        #expect(ada.stop() == 0)
        let again = try NodeProcess(example: "ada", home: ada.home)
        var connected = false
        for _ in 0..<100 where !connected {
            let out = try CLI.run(["peers", "--home", again.home, "--json"]).stdout
            let peers = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]]
            connected = peers?.first?["connected"] as? Bool == true && peers?.first?["relationship"] as? String == "friends"
            if !connected { usleep(100_000) }
        }
        #expect(connected, "the restarted node redials its friend")
        _ = again.stop()
        _ = cleo.stop()
    }

    @Test func commandsWithoutARunningNodeSayWhatToDo() throws {
        let home = try Fixtures.temporaryDirectory("kith-cli").appendingPathComponent("home").path
        #expect(try CLI.run(["init", "--home", home, "--name", "Solo"]).status == 0)
        let status = try CLI.run(["status", "--home", home])
        #expect(status.status != 0)
        #expect(status.stderr.contains("kith run"))
        let bad = try CLI.run(["connect", "--home", home, "not-an-invite"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("DID@HOST:PORT"))
    }

    @Test func aSecondNodeInTheSameHomeIsRefused() throws {
        let ada = try NodeProcess(example: "ada")
        #expect(throws: NodeProcessError.self) { try NodeProcess(example: "ada", home: ada.home) }
        _ = ada.stop()
    }
}

@Suite("Gossip over the CLI", .serialized, .offCooperativePool)
struct GossipCommandTests {
    static func setAuto(_ node: NodeProcess) throws -> NodeProcess {
        let yaml = node.home + "/identity.yaml"
        try String(contentsOfFile: yaml, encoding: .utf8).replacingOccurrences(of: "connect: ask", with: "connect: auto")
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        _ = node.stop()
        return try NodeProcess(example: "", home: node.home)
    }

    static func json(_ args: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try CLI.run(args).stdout.utf8))
    }

    @Test func peopleShowReloadAndUnfriendAcrossThreeNodes() throws {
        let ada = try NodeProcess(example: "ada")
        let ben = try Self.setAuto(try NodeProcess(example: "ben"))
        let cleo = try NodeProcess(example: "cleo")
        #expect(try CLI.run(["connect", "--home", ada.home, "\(ben.did)@\(ben.address)"]).stdout.hasPrefix("accepted"))
        #expect(try CLI.run(["connect", "--home", cleo.home, "\(ben.did)@\(ben.address)"]).stdout.hasPrefix("accepted"))

        var cleoRow: [String: Any]?
        for _ in 0..<80 where cleoRow == nil {
            let people = try Self.json(["people", "--json", "--home", ada.home]) as? [[String: Any]]
            cleoRow = people?.first { $0["id"] as? String == cleo.did }
            if cleoRow == nil { usleep(100_000) }
        }
        #expect(cleoRow?["hops"] as? Int == 2)
        #expect(cleoRow?["name"] as? String == "Cleo")

        let shown = try #require(try Self.json(["show", cleo.did, "--json", "--home", ada.home]) as? [String: Any])
        #expect(shown["id"] as? String == cleo.did)
        let seqBefore = try #require(shown["seq"] as? Int)

        // Cleo edits her profile; `kith reload` re-signs and gossip brings it to Ada through Ben.
        let yaml = cleo.home + "/identity.yaml"
        try String(contentsOfFile: yaml, encoding: .utf8)
            .replacingOccurrences(of: "bio: Postdoc", with: "bio: Newly tenured postdoc")
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        let reload = try CLI.run(["reload", "--home", cleo.home])
        let newSeq = try #require(reload.stdout.hasPrefix("manifest re-signed: seq ")
            ? Int(reload.stdout.dropFirst("manifest re-signed: seq ".count).prefix { $0.isNumber }) : nil, "\(reload.stdout)\(reload.stderr)")
        #expect(newSeq > seqBefore)
        var seen = 0
        for _ in 0..<80 where seen != newSeq {
            seen = (try Self.json(["show", cleo.did, "--json", "--home", ada.home]) as? [String: Any])?["seq"] as? Int ?? 0
            if seen != newSeq { usleep(100_000) }
        }
        #expect(seen == newSeq)
        #expect(try CLI.run(["show", cleo.did, "--home", ada.home]).stdout.contains("Newly tenured"))
        #expect(try CLI.run(["reload", "--home", cleo.home]).stdout.hasPrefix("no public change"))

        // Cleo unfriends Ben: the revocation gossips and Ada no longer sees Cleo within reach.
        #expect(try CLI.run(["unfriend", ben.did, "--home", cleo.home]).stdout.hasPrefix("unfriended"))
        var hops: Int? = 2
        for _ in 0..<80 where hops != nil {
            let people = try Self.json(["people", "--json", "--home", ada.home]) as? [[String: Any]]
            hops = people?.first { $0["id"] as? String == cleo.did }?["hops"] as? Int
            if hops != nil { usleep(100_000) }
        }
        #expect(hops == nil)
        for node in [ada, ben, cleo] { #expect(node.stop() == 0) }
    }

    @Test func showExplainsAnUnknownIdentity() throws {
        let home = try Fixtures.temporaryDirectory("kith-cli").appendingPathComponent("home").path
        #expect(try CLI.run(["init", "--home", home, "--name", "Solo"]).status == 0)
        let result = try CLI.run(["show", NodeKeys.generate().identity.did, "--home", home])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no manifest"))
        #expect(try CLI.run(["people", "--home", home]).stdout.contains("nobody yet"))
    }
}
