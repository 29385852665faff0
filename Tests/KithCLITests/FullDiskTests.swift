import Foundation
import KithTestSupport
import Testing

/// A node whose disk fills up: every write fails with an error that says so and what to do, the
/// database is never corrupted, and once space is freed everything works again.
@Suite("Full disk", .serialized, .offCooperativePool, .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct FullDiskTests {
    static func sh(_ command: String) throws -> CLI.Result {
        try CLI.run(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
    }

    @Test func aFullDiskGivesAClearErrorAndNoCorruption() throws {
        let mount = try Fixtures.temporaryDirectory("kith-tmpfs").path
        let mounted = try Self.sh("mount -t tmpfs -o size=3m kith-test-tmpfs '\(mount)'")
        try #require(mounted.status == 0, "cannot mount a tmpfs: \(mounted.stderr)")
        defer { _ = try? Self.sh("umount -l '\(mount)'") }

        // Ada's home lives on the small filesystem; Cleo's on the normal one.
        let lines = (1...30).map { "say: line \($0) " + String(repeating: "words ", count: 30) }
        let scripted = try NodeProcess.scriptedHome("ada", script: lines)
        let home = mount + "/ada"
        #expect(try CLI.run(["init", "--home", home, "--from", scripted + "/identity.yaml"]).status == 0)
        let ada = try NodeProcess(example: "", home: home)
        let cleo = try NodeProcess(example: "cleo", home: try NodeProcess.scriptedHome("cleo", script: lines))

        // A first conversation while there is room.
        let first = try CLI.run(["talk", "--home", home, "\(cleo.did)@\(cleo.address)", "--topic", "before", "--turns", "6"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")

        // A profile edit waits to be re-signed; then the filesystem fills to the last byte.
        let yaml = home + "/identity.yaml"
        try String(contentsOfFile: yaml, encoding: .utf8).replacingOccurrences(of: "bio: Climber", with: "bio: Out of disk, climber")
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        let seqBefore = (try JSONSerialization.jsonObject(with: Data(try CLI.run(["manifest", "--json", "--home", home]).stdout.utf8))
            as? [String: Any])?["seq"] as? Int

        _ = try Self.sh("dd if=/dev/zero of='\(mount)/filler' bs=64k 2>/dev/null; dd if=/dev/zero of='\(mount)/filler2' bs=512 2>/dev/null; sync")
        let free = try Self.sh("df --output=avail -B1 '\(mount)' | tail -1").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(free) ?? -1 < 4096, "the filesystem is full (\(free) bytes free)")

        // Starting a conversation fails at once, saying the disk is full and what to do.
        let full = try CLI.run(["talk", "--home", home, "\(cleo.did)@\(cleo.address)", "--topic", "during", "--turns", "60"])
        #expect(full.status != 0)
        #expect((full.stdout + full.stderr).contains("is full: free some space and retry"), "\(full.stdout)\(full.stderr)")
        // Re-signing the manifest fails the same way, and the old manifest stays in force.
        let reload = try CLI.run(["reload", "--home", home])
        #expect(reload.status != 0)
        #expect((reload.stdout + reload.stderr).contains("is full: free some space and retry"), "\(reload.stdout)\(reload.stderr)")
        // The node keeps serving: status answers, and a conversation Cleo opens is not acknowledged.
        #expect(try CLI.run(["status", "--home", home]).status == 0)

        // Free the space: the database is intact, every stored conversation audits, and talking works again.
        _ = try Self.sh("rm -f '\(mount)/filler' '\(mount)/filler2'")
        let resigned = try CLI.run(["reload", "--home", home])
        let resignedSeq = resigned.stdout.hasPrefix("manifest re-signed: seq ")
            ? Int(resigned.stdout.dropFirst("manifest re-signed: seq ".count).prefix { $0.isNumber }) : nil
        #expect((resignedSeq ?? 0) > (seqBefore ?? .max), "\(resigned.stdout)\(resigned.stderr)")
        let again = try CLI.run(["talk", "--home", home, "\(cleo.did)@\(cleo.address)", "--topic", "after", "--turns", "6"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("complete"))
        #expect(ada.stop() == 0)
        #expect(try SQLiteCheck.integrity(home + "/kith.db") == "ok")
        let audit = try CLI.run(["audit", "--all", "--home", home])
        #expect(audit.status == 0, "\(audit.stdout)\(audit.stderr)")
        let log = String(decoding: ada.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!log.contains("corrupt"), "\(log)")
        _ = cleo.stop()
    }
}
