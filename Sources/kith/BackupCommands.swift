import ArgumentParser
import Foundation
import KithNode

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the key, identity.yaml and a database snapshot to one passphrase-sealed file.",
        discussion: """
            Safe while the node runs. The passphrase (Argon2id) comes from $KITH_BACKUP_PASSPHRASE or is \
            asked twice; keep it apart from the file. Restore with `kith restore FILE --home DIR`.
            """)
    @OptionGroup var options: GlobalOptions
    @Option(help: ArgumentHelp("The backup file to create (never overwritten).", valueName: "FILE")) var out: String

    func run() async throws {
        let passphrase = try Passphrase.forBackup(creating: true)
        let report = try KithNode.Backup.write(options.nodeHome, to: out, passphrase: passphrase, progress: { printErr($0) })
        print("wrote \(out): \(report.id), database \(report.databaseBytes / 1024) KiB, \(report.fileBytes / 1024) KiB in all")
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a node from a `kith backup` file into an empty home folder.",
        discussion: """
            The restored node's next manifest is signed above anything it signed before (and above what \
            its friends hold), so no friend takes it for an equivocator. The passphrase comes from \
            $KITH_BACKUP_PASSPHRASE or is asked.
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("The backup file.", valueName: "FILE")) var file: String

    func run() async throws {
        guard FileManager.default.fileExists(atPath: file) else { throw NodeError("no file \(file): check the path") }
        let passphrase = try Passphrase.forBackup(creating: false)
        let report = try KithNode.Backup.restore(file, into: options.nodeHome, passphrase: passphrase, progress: { printErr($0) })
        let created = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(report.created) / 1000))
        print("restored \(report.id) (backup of \(created)) into \(options.nodeHome.path)")
        printErr("Next: `kith run` — friends tell the node what it signed since the backup, and it signs above it.")
    }
}
