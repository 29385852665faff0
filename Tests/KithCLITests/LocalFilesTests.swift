import Foundation
import KithModel
import KithStore
import KithTestSupport
import Testing

/// The person's files stay theirs, and the CLI says what happened and what to do next.
@Suite("Local files and honest exits", .serialized, .offCooperativePool)
struct LocalFilesTests {
    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int
    }

    @Test func theModelTheDatabaseAndItsWALFilesArePrivateEvenUnderAWideUmask() throws {
        let old = umask(0o022)
        defer { umask(old) }
        let node = try NodeProcess(example: "ada")
        defer { _ = node.stop() }
        #expect(try CLI.run(["status", "--home", node.home]).status == 0)
        for file in ["identity.yaml", "identity.key", "kith.db", "kith.db-wal", "kith.db-shm"] {
            let path = node.home + "/" + file
            guard FileManager.default.fileExists(atPath: path) else { continue }
            #expect(Self.mode(path) == 0o600, "\(file) is \(String(Self.mode(path) ?? 0, radix: 8))")
        }
        #expect(FileManager.default.fileExists(atPath: node.home + "/kith.db-wal"), "the check above saw the WAL file")
        // A model file someone made readable is tightened the next time the node opens.
        #expect(chmod(node.home + "/identity.yaml", 0o644) == 0)
        #expect(try CLI.run(["manifest", "--home", node.home]).status == 0)
        #expect(Self.mode(node.home + "/identity.yaml") == 0o600)
    }

    @Test func initRefusesAFolderThatBelongsToAnotherUser() throws {
        guard geteuid() == 0 else { return }  // only root can hand a folder to someone else
        let dir = try Fixtures.temporaryDirectory("kith-other").appendingPathComponent("home").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(chown(dir, 65534, 65534) == 0)
        chmod(dir, 0o755)
        let result = try CLI.run(["init", "--home", dir, "--name", "Eve"])
        #expect(result.status != 0 && result.stderr.contains("belongs to another user"), "\(result.stderr)")
        #expect(Self.mode(dir) == 0o755, "the folder was left as it was")
        #expect(!FileManager.default.fileExists(atPath: dir + "/identity.key"))
    }

    @Test func thePassphraseVariableIsWipedFromTheRunningNodesEnvironment() throws {
        let passphrase = "correct horse battery staple"
        let home = try Fixtures.temporaryDirectory("kith-pass").appendingPathComponent("home").path
        #expect(try CLI.run(["init", "--home", home, "--name", "Pat", "--passphrase"], environment: ["KITH_PASSPHRASE": passphrase]).status == 0)
        let node = try NodeProcess(example: "ada", home: home, environment: ["KITH_PASSPHRASE": passphrase])
        defer { _ = node.stop() }
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(node.process.processIdentifier)/environ"))
        #expect(!environ.isEmpty)
        #expect(environ.range(of: Data(passphrase.utf8)) == nil, "the passphrase is still in /proc/PID/environ")
        #expect(environ.range(of: Data("KITH_PASSPHRASE=".utf8)) != nil, "the check can fail: the variable's name is still there, its value wiped")
    }

    @Test func manifestNeverSignsWhileANodeRunsAndPointsToReload() throws {
        let node = try NodeProcess(example: "ada")
        defer { _ = node.stop() }
        let before = try CLI.run(["manifest", "--json", "--home", node.home])
        let seq = try #require((try JSONSerialization.jsonObject(with: Data(before.stdout.utf8)) as? [String: Any])?["seq"] as? Int)
        let yaml = node.home + "/identity.yaml"
        try (try String(contentsOfFile: yaml, encoding: .utf8)).replacingOccurrences(of: "bio: ", with: "bio: Changed. ")
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        let after = try CLI.run(["manifest", "--json", "--home", node.home])
        #expect(after.status == 0 && after.stderr.contains("kith reload"), "\(after.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])?["seq"] as? Int == seq)
        let reload = try CLI.run(["reload", "--home", node.home]).stdout
        let newSeq = reload.hasPrefix("manifest re-signed: seq ") ? Int(reload.dropFirst("manifest re-signed: seq ".count).prefix { $0.isNumber }) : nil
        #expect((newSeq ?? 0) > seq, "\(reload)")
    }

    @Test func badArgumentsAndMissingFilesSayWhatToDo() throws {
        let node = try NodeProcess(example: "ada")
        defer { _ = node.stop() }
        for turns in ["0", "201"] {
            let talk = try CLI.run(["talk", "--home", node.home, node.did, "--turns", turns])
            #expect(talk.status != 0 && talk.stderr.contains("from 1 to 200"), "\(talk.stderr)")
        }
        let audit = try CLI.run(["audit", "/nonexistent/talk.kithlog", "--home", node.home])
        #expect(audit.status != 0 && audit.stderr.contains("no file"), "\(audit.stderr)")
        let dir = try Fixtures.temporaryDirectory("kith-verify")
        let log = dir.appendingPathComponent("x.kithlog").path
        try Data(#"{"format":"kithlog/1","conv":"00"}"#.utf8).write(to: URL(fileURLWithPath: log))
        let verify = try CLI.run(["verify", log])
        #expect(verify.status != 0 && verify.stderr.contains("kith audit"), "\(verify.stderr)")
    }

    @Test func aRefusedTalkExitsNonZeroAndSaysWhy() throws {
        let ada = try NodeProcess(example: "ada", home: try NodeProcess.scriptedHome("ada", script: ["say: hello", "close: bye"]))
        defer { _ = ada.stop() }
        let cleo = try NodeProcess(example: "cleo", home: try NodeProcess.scriptedHome("cleo", script: ["say: hi"], converse: "friends"))
        defer { _ = cleo.stop() }
        let talk = try CLI.run(["talk", "--home", ada.home, "\(cleo.did)@\(cleo.address)", "--turns", "4"])
        #expect(talk.status == 1 && talk.stderr.contains("declined") && talk.stderr.contains("kith connect"), "\(talk.stdout)\(talk.stderr)")
    }

    @Test func anAddressIsKeptOnlyAfterAHandshakeThereProvedTheKey() throws {
        let ada = try NodeProcess(example: "ada")
        defer { _ = ada.stop() }
        let ben = try NodeProcess(example: "ben")
        defer { _ = ben.stop() }
        // Someone else's key at Ben's address: the dial fails and nothing is stored for that key.
        let impostor = NodeKeys.generate().identity
        let connect = try CLI.run(["connect", "--home", ada.home, "\(impostor.did)@\(ben.address)"])
        #expect(connect.status != 0)
        let store = try Store(path: ada.home + "/kith.db")
        #expect(try store.endpoints(of: impostor).isEmpty)
        #expect(try CLI.run(["connect", "--home", ada.home, "\(ben.did)@\(ben.address)"]).status == 0)
        #expect(try store.endpoints(of: Identity(did: ben.did)) == ["tcp://\(ben.address)"])
    }

    @Test func aNetworkErrorNamesTheAddressAndTheCauseInPlainWords() throws {
        let ada = try NodeProcess(example: "ada")
        defer { _ = ada.stop() }
        // A port nothing listens on: bind one, then close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        let someone = NodeKeys.generate().identity
        let result = try CLI.run(["connect", "--home", ada.home, "\(someone.did)@127.0.0.1:\(port)"])
        let text = result.stdout + result.stderr
        #expect(result.status != 0 && text.contains("127.0.0.1:\(port)") && text.contains("connection refused"), "\(text)")
        #expect(!text.contains("NIO") && !text.contains("Error("), "no library type names: \(text)")
    }

    @Test func aRestartOnTheSameAddressSignsNothingAndNeitherDoesAnOfflineManifest() throws {
        var node = try NodeProcess(example: "ada")
        let address = node.address, nodeHome = node.home
        func seq() throws -> Int? {
            (try JSONSerialization.jsonObject(with: Data(try CLI.run(["manifest", "--json", "--home", nodeHome]).stdout.utf8)) as? [String: Any])?["seq"] as? Int
        }
        let first = try #require(try seq())
        _ = node.stop()
        #expect(try seq() == first, "showing the manifest offline re-signed it")
        node = try NodeProcess(example: "ada", home: nodeHome, listen: address)
        #expect(try seq() == first, "a restart with the same endpoints re-signed it")
        _ = node.stop()
        #expect(try seq() == first)
    }
}
