import ArgumentParser
import Foundation
import KithModel
import KithNode
import KithStore

struct ManifestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest",
        abstract: "Show or export this node's signed profile manifest.",
        discussion: "The manifest is re-signed (seq + 1) when identity.yaml's public part changed or it nears expiry.",
        subcommands: [Show.self, Export.self],
        defaultSubcommand: Show.self)

    /// The manifest to show: re-signed here when needed, except while a node runs for this home
    /// (it alone signs then, so two processes never sign one seq twice).
    static func current(_ context: NodeContext) async throws -> StoredManifest {
        guard await ControlClient.isServing(socket: context.home.controlSocket) else {
            return try context.currentManifest()
        }
        guard let stored = try context.storedManifest() else {
            throw NodeError("the running node has not signed a manifest yet: try again in a moment")
        }
        if context.modelDiffers(from: stored.manifest) {
            printErr("identity.yaml changed since this manifest was signed: run `kith reload` to have the running node re-sign it")
        }
        return stored
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the current signed manifest.")

        @OptionGroup var options: GlobalOptions

        @Flag(help: "Print the manifest's fields as one JSON object.")
        var json = false

        func run() async throws {
            options.bootstrapLogging()
            let home = options.nodeHome
            let context = try home.open(passphrase: try Passphrase.forOpening(home))
            let stored = try await ManifestCommand.current(context)
            if json {
                print(try ManifestPresenter.json(stored.object, stored.manifest, network: context.record.network))
            } else {
                print(ManifestPresenter.text(stored.object, stored.manifest, network: context.record.network))
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the signed manifest as a JSON envelope file.")

        @OptionGroup var options: GlobalOptions

        @Option(help: ArgumentHelp("Where to write the envelope (- for standard output).", valueName: "FILE"))
        var out: String

        func run() async throws {
            options.bootstrapLogging()
            let home = options.nodeHome
            let context = try home.open(passphrase: try Passphrase.forOpening(home))
            let stored = try await ManifestCommand.current(context)
            let text = stored.object.envelopeJSON + "\n"
            if out == "-" {
                print(text, terminator: "")
            } else {
                do { try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                    throw NodeError("cannot write \(out): \(error.localizedDescription)")
                }
                printErr("Wrote manifest seq \(stored.manifest.seq) of \(context.identity.did) to \(out)")
            }
        }
    }
}

/// Renders manifests for people and for machines.
enum ManifestPresenter {
    static func iso(_ ms: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000))
    }

    static func text(_ object: SignedObject, _ m: Manifest, network: String?) -> String {
        var lines = [
            "\(m.name)  \(m.id.did)",
            "seq \(m.seq) · issued \(iso(m.ts)) · expires \(iso(m.exp))",
        ]
        if !m.bio.isEmpty { lines.append("bio:        \(m.bio)") }
        lines.append("interests:  \(m.interests.isEmpty ? "(none)" : m.interests.joined(separator: ", "))")
        if !m.endpoints.isEmpty { lines.append("endpoints:  \(m.endpoints.joined(separator: " "))") }
        lines.append("model:      \(Hex.encode(m.model))")
        lines.append("network:    \(network.map { "\($0) " } ?? "")(\(Hex.encode(m.net.bytes)))")
        lines.append("hash:       \(Hex.encode(object.hash))  (\(object.bytes.count) bytes, signature ok)")
        return lines.joined(separator: "\n")
    }

    static func json(_ object: SignedObject, _ m: Manifest, network: String?) throws -> String {
        var fields: [String: Any] = [
            "type": Manifest.type, "v": Manifest.version, "id": m.id.did, "seq": m.seq, "ts": m.ts, "exp": m.exp,
            "name": m.name, "bio": m.bio, "interests": m.interests, "model": Hex.encode(m.model),
            "endpoints": m.endpoints, "caps": m.caps, "net": Hex.encode(m.net.bytes),
            "hash": Hex.encode(object.hash), "size": object.bytes.count,
        ]
        if let network { fields["network"] = network }
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
