import ArgumentParser
import Foundation
import KithModel
import KithNode

struct Memories: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List your memories with their visibility and tags; change one; import your notes.",
        discussion: "Reads and writes identity.yaml; a running node re-reads it at once.",
        subcommands: [List.self, Set.self, Import.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List memories (numbered); --as shows only what that kind of peer may hear.")
        @OptionGroup var options: GlobalOptions
        @Option(name: .customLong("as"), help: "stranger, fof or friend: what your AI may tell them (by your policy).") var audience: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let audience, !["stranger", "fof", "friend"].contains(audience) { throw ValidationError("--as must be stranger, fof or friend") }
        }

        func run() async throws {
            let model = try options.nodeHome.loadModel()
            var shown = Array(model.memories.enumerated())
            if let audience {
                let name = ["stranger": "stranger", "fof": "friend of a friend", "friend": "friend"][audience]!
                let allowed = DisclosurePreview.of(model).audiences.first { $0.audience == name }?.memories ?? []
                shown = shown.filter { allowed.contains($0.element.text) }
            }
            if json {
                struct Row: Encodable { var n: Int; var text: String; var visibility: String; var tags: [String] }
                print(try NodeCall.json(shown.map { Row(n: $0.offset + 1, text: $0.element.text, visibility: $0.element.visibility.rawValue, tags: $0.element.tags) }))
                return
            }
            if shown.isEmpty { print(audience == nil ? "no memories yet: add them to identity.yaml, or `kith memories import NOTES`" : "nothing: your AI tells them no memory") }
            for (i, m) in shown {
                let tags = m.tags.isEmpty ? "" : "  [\(m.tags.joined(separator: ", "))]"
                print("\(i + 1). (\(m.visibility.rawValue)) \(m.text)\(tags)".terminalLine)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change memory N's visibility (N as `kith memories` numbers it).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The memory's number.") var n: Int
        @Option(help: "public, friends or private.") var visibility: String

        func run() async throws {
            guard let v = IdentityModel.Visibility(rawValue: visibility) else { throw ValidationError("--visibility must be public, friends or private") }
            let home = options.nodeHome
            var profile = IdentityProfile(try home.loadModel())
            guard n >= 1 && n <= profile.memories.count else {
                throw ValidationError("there is no memory \(n): `kith memories` numbers them 1 to \(profile.memories.count)")
            }
            let was = profile.memories[n - 1].visibility
            profile.memories[n - 1].visibility = v.rawValue
            try await MemoryFile.save(profile, home: home)
            print("memory \(n): \(was) → \(v.rawValue)")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add memories from a folder of Markdown or text notes (one per paragraph or list item, tagged from headings), private unless you say otherwise.",
            discussion: "Prints what it added, for you to review; `kith memories set N --visibility friends` shares one.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "A folder of .md/.txt notes, or one file.") var path: String
        @Option(help: "Visibility of the imported memories (default private).") var visibility = "private"
        @Flag(help: "Show what would be added without writing identity.yaml.") var dryRun = false

        func run() async throws {
            guard let v = IdentityModel.Visibility(rawValue: visibility) else { throw ValidationError("--visibility must be public, friends or private") }
            let home = options.nodeHome
            var profile = IdentityProfile(try home.loadModel())
            let known = Swift.Set(profile.memories.map(\.text))
            let found = try NoteImporter.memories(at: path, visibility: v)
            let fresh = found.filter { !known.contains($0.text) }
            let room = IdentityModel.Limits.memories - profile.memories.count
            guard room > 0 || fresh.isEmpty else { throw NodeError("identity.yaml already holds \(IdentityModel.Limits.memories) memories: remove some first") }
            let added = Array(fresh.prefix(room))
            for (i, m) in added.enumerated() {
                let tags = m.tags.isEmpty ? "" : "  [\(m.tags.joined(separator: ", "))]"
                print("\(profile.memories.count + i + 1). (\(m.visibility.rawValue)) \(m.text.prefix(100))\(m.text.count > 100 ? "…" : "")\(tags)".terminalLine)
            }
            let skipped = found.count - added.count
            if dryRun {
                print("\(added.count) memories would be added\(skipped > 0 ? " (\(skipped) already there or over the limit)" : ""); nothing written")
                return
            }
            profile.memories += added.map { .init(text: $0.text, visibility: $0.visibility.rawValue, tags: $0.tags) }
            if !added.isEmpty { try await MemoryFile.save(profile, home: home) }
            print("added \(added.count) \(v.rawValue) memories\(skipped > 0 ? " (\(skipped) already there or over the limit)" : "")")
        }
    }
}

/// Writes an edited profile into identity.yaml (validated as a reload reads it) and tells a
/// running node to re-read it.
enum MemoryFile {
    static func save(_ profile: IdentityProfile, home: NodeHome) async throws {
        let yaml: String
        do { yaml = try String(contentsOfFile: home.modelFile, encoding: .utf8) } catch { throw NodeError("cannot read \(home.modelFile)") }
        let edited = try IdentityModel.editing(yaml, with: profile)
        try home.replaceModel(with: edited.yaml)
        if FileManager.default.fileExists(atPath: home.controlSocket),
           let report = try? await NodeCall(home: home).call(.reload, as: ReloadReport.self) {
            printErr(report.changed ? "the running node re-signed its manifest (seq \(report.seq))" : "the running node re-read identity.yaml")
        }
    }
}

struct DisclosuresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disclosures",
        abstract: "Which of your memories your AI drew on, for whom and when (from the signed transcripts).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Only those to this did:key.") var did: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let home = options.nodeHome
        let context = try home.open(passphrase: try Passphrase.forOpening(home))
        let peer = try did.map { try Identity(did: $0) }
        let list = try Disclosures.list(store: context.store, me: context.identity, model: context.model, salt: context.keys.modelSalt, peer: peer)
        if json { print(try NodeCall.json(list)); return }
        if list.isEmpty { print("no memory disclosed\(did == nil ? "" : " to \(did!)") yet") }
        for d in list {
            let now = d.visibilityNow.map { $0 == d.visibility ? "" : ", \($0) now" } ?? ", since removed or edited"
            let how = d.inWords == false ? "given, not said in words" : "said"
            let what = d.text.map { "\(how) (\(d.visibility ?? "?")\(now)) \($0)" } ?? "a memory this node cannot name (\(d.hash.prefix(12)))"
            print("\(NodeCall.time(d.ts))  \(d.name ?? "?") \(d.peer.prefix(20))…  conv \(d.conv.prefix(12)) #\(d.seq)  \(what)".terminalLine)
        }
    }
}
