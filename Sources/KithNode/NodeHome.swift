import Foundation
public import KithCrypto
public import KithModel
public import KithProtocol
import KithStore

/// The folder that holds a node: `identity.key` (secret, 0600), `identity.yaml` (the person's
/// model, private memories included, 0600) and `kith.db` with its WAL files (the store, 0600).
/// The folder itself is kept at mode 0700 and must belong to the user running Kith.
public struct NodeHome: Sendable {
    /// The folder.
    public let path: String

    /// The home at `path`, or `$KITH_HOME`, or `~/.kith`.
    public init(path: String? = nil, environment: [String: String]? = nil) {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let path, !path.isEmpty {
            self.path = path
        } else if let env = environment["KITH_HOME"], !env.isEmpty {
            self.path = env
        } else {
            self.path = (environment["HOME"] ?? NSHomeDirectory()) + "/.kith"
        }
    }

    /// `identity.key`.
    public var keyFile: String { path + "/identity.key" }
    /// `identity.yaml`.
    public var modelFile: String { path + "/identity.yaml" }
    /// `kith.db`.
    public var databaseFile: String { path + "/kith.db" }
    /// `control.sock`: the running node's Unix domain socket for the CLI.
    public var controlSocket: String { path + "/control.sock" }

    /// True when a key file exists here.
    public var isInitialised: Bool { FileManager.default.fileExists(atPath: keyFile) }

    /// Creates a new node here: the folder (0700), `identity.yaml` (copied from `modelSource`, else
    /// the one already in the folder, else written from a template with `name`), a fresh key, the
    /// store and the first signed manifest. On failure, whatever it created is removed again.
    public static func initialise(
        at home: NodeHome, name: String?, modelSource: String?, network: String,
        passphrase: SecretBytes?, cost: PasswordBox.Cost = .moderate, now: UInt64 = WallClock.system.now()
    ) throws(NodeError) -> NodeContext {
        guard NetworkID.isValidName(network) else {
            throw NodeError("network name '\(network)' is invalid: use 1-64 letters, digits, '-', '_' or '.'")
        }
        guard !home.isInitialised else {
            throw NodeError("\(home.path) already holds a Kith identity (\(home.keyFile)); use another --home to create a second one")
        }
        try home.createFolder()
        let fm = FileManager.default
        let modelExisted = fm.fileExists(atPath: home.modelFile)
        if modelExisted && modelSource != nil {
            throw NodeError("\(home.modelFile) already exists: remove it, or drop --from to use it as your model")
        }
        if fm.fileExists(atPath: home.databaseFile) {
            throw NodeError("\(home.databaseFile) exists without a key file: move it aside before running `kith init`")
        }
        do {
            return try createIdentity(at: home, name: name, modelSource: modelSource, network: network,
                                      passphrase: passphrase, cost: cost, now: now)
        } catch {
            // Leave no half-made identity behind: a failed init can simply be run again.
            var created = [home.keyFile, home.databaseFile, home.databaseFile + "-wal", home.databaseFile + "-shm"]
            if !modelExisted { created.append(home.modelFile) }
            for file in created { try? fm.removeItem(atPath: file) }
            throw error
        }
    }

    private static func createIdentity(
        at home: NodeHome, name: String?, modelSource: String?, network: String,
        passphrase: SecretBytes?, cost: PasswordBox.Cost, now: UInt64
    ) throws(NodeError) -> NodeContext {

        let yaml: String
        let modelExisted = FileManager.default.fileExists(atPath: home.modelFile)
        if let source = modelSource ?? (modelExisted ? home.modelFile : nil) {
            do { yaml = try String(contentsOfFile: source, encoding: .utf8) } catch {
                throw NodeError("cannot read \(source): \(error.localizedDescription)")
            }
        } else {
            yaml = NodeHome.template(name: name ?? NSUserName())
        }
        var model: IdentityModel
        do { model = try IdentityModel(yaml: yaml) } catch { throw NodeError("\(modelSource ?? (modelExisted ? home.modelFile : "template")): \(error)") }
        var finalYAML = yaml
        if let name, modelSource != nil || modelExisted, name != model.name {
            // `--name` overrides the name of a copied model.
            model.name = name
            finalYAML = NodeHome.replacingName(in: yaml, with: name)
            do { model = try IdentityModel(yaml: finalYAML) } catch { throw NodeError("--name: \(error)") }
        }
        if !modelExisted || finalYAML != yaml {
            do {
                try Data(finalYAML.utf8).write(to: URL(fileURLWithPath: home.modelFile), options: modelExisted ? .atomic : .withoutOverwriting)
            } catch {
                throw NodeError("cannot write \(home.modelFile): \(error.localizedDescription)")
            }
        }
        try home.keepPrivate(home.modelFile)

        let keys = NodeKeys.generate()
        do { try KeyFile.write(keys, to: home.keyFile, passphrase: passphrase, cost: cost) } catch { throw NodeError(error.message) }

        let store = try home.openStore()
        let record = OwnIdentityRecord(identity: keys.identity, network: network, createdAt: now)
        do { try store.setOwnIdentity(record) } catch { throw NodeError(error.message) }
        let context = NodeContext(home: home, keys: keys, model: model, store: store, record: record)
        _ = try context.currentManifest(now: now)
        return context
    }

    /// Opens an existing node: reads the key (with `passphrase` when protected), the model and the
    /// store, and checks that they belong together.
    public func open(passphrase: SecretBytes?) throws(NodeError) -> NodeContext {
        guard isInitialised else {
            throw NodeError("no Kith identity in \(path): run `kith init --name NAME` first (or pass --home)")
        }
        try checkFolderPermissions()
        try keepPrivate(modelFile)
        let keys: NodeKeys
        do { keys = try KeyFile.read(from: keyFile, passphrase: passphrase) } catch { throw NodeError(error.message) }
        let model = try loadModel()
        let store = try openStore()
        let record: OwnIdentityRecord
        do {
            guard let stored = try store.ownIdentity() else {
                throw NodeError("\(databaseFile) has no identity recorded: it was not created by `kith init`")
            }
            record = stored
        } catch let error as NodeError { throw error } catch { throw NodeError("\(error)") }
        guard record.identity == keys.identity else {
            throw NodeError("\(databaseFile) belongs to \(record.identity.did), but the key is \(keys.identity.did): the home folder was mixed up")
        }
        return NodeContext(home: self, keys: keys, model: model, store: store, record: record)
    }

    /// True when opening needs a passphrase.
    public func needsPassphrase() throws(NodeError) -> Bool {
        guard isInitialised else { return false }
        do { return try KeyFile.isPassphraseProtected(at: keyFile) } catch { throw NodeError(error.message) }
    }

    /// Reads and validates `identity.yaml`.
    public func loadModel() throws(NodeError) -> IdentityModel {
        let text: String
        do { text = try String(contentsOfFile: modelFile, encoding: .utf8) } catch {
            throw NodeError("cannot read \(modelFile): \(error.localizedDescription)")
        }
        do { return try IdentityModel(yaml: text) } catch { throw NodeError("\(error) (in \(modelFile))") }
    }

    /// Opens the store. A new database file is created 0600 before SQLite opens it, so its WAL
    /// and shared-memory files (which SQLite creates with the database's mode) are 0600 too; an
    /// existing database and its WAL files are tightened to 0600.
    func openStore() throws(NodeError) -> Store {
        if !FileManager.default.fileExists(atPath: databaseFile) {
            guard FileManager.default.createFile(atPath: databaseFile, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw NodeError("cannot create \(databaseFile): check that \(path) is writable")
            }
        }
        for file in [databaseFile, databaseFile + "-wal", databaseFile + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try keepPrivate(file)
        }
        do { return try Store(path: databaseFile) } catch { throw NodeError(error.message) }
    }

    /// Sets mode 0600 on a file of this home that others could read.
    func keepPrivate(_ file: String) throws(NodeError) {
        var info = stat()
        guard stat(file, &info) == 0 else { return }
        guard info.st_mode & 0o077 != 0 else { return }
        guard chmod(file, 0o600) == 0 else { throw NodeError("\(file) is readable by others and cannot be made private: run `chmod 600 \(file)`") }
    }

    func createFolder() throws(NodeError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw NodeError("\(path) exists and is not a folder") }
            var info = stat()
            guard stat(path, &info) == 0 else { throw NodeError("cannot inspect \(path)") }
            guard info.st_uid == geteuid() else {
                throw NodeError("\(path) belongs to another user (uid \(info.st_uid)): pick a folder of your own with --home")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch { throw NodeError("cannot create \(path): \(error.localizedDescription)") }
        }
        // The folder is ours: tighten it; the key file inside is protected on its own as well.
        guard chmod(path, 0o700) == 0 else { throw NodeError("cannot set mode 0700 on \(path)") }
    }

    func checkFolderPermissions() throws(NodeError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw NodeError("cannot inspect \(path)") }
        guard info.st_mode & 0o077 == 0 else {
            throw NodeError("\(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))): run `chmod 700 \(path)`")
        }
    }

    /// The identity.yaml written by `kith init --name NAME`.
    static func template(name: String) -> String {
        let quotedName = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        return """
        # Your Kith identity model. Edit it, then run `kith manifest` to re-sign your public profile.
        # Public: name, bio and interests (your signed profile), and values and style (your AI speaks
        # them to anyone it converses with). Memories are shared according to their visibility.
        name: \(quotedName)
        bio: ""
        interests: []
        values: []
        style: friendly, concise
        memories: []
        #  - text: Something you are happy to tell anyone.
        #    visibility: public      # public | friends | private
        #    tags: [topic]
        policy:
          converse: fof              # friends | fof | anyone
          connect: ask               # ask | auto | never
          min_match: 0.6
          max_turns: 12
          daily_conversations: 20
          addresses: friends         # friends | fof: who may learn where this node listens
          dht: friends               # friends | public | off: the Mainline DHT record (Protocol/dht.md)
        engine:
          kind: embedded             # embedded | openai | script

        """
    }

    static func replacingName(in yaml: String, with name: String) -> String {
        let quoted = "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        var lines = yaml.components(separatedBy: "\n")
        if let i = lines.firstIndex(where: { $0.hasPrefix("name:") }) { lines[i] = "name: \(quoted)" }
        return lines.joined(separator: "\n")
    }

    /// Replaces `identity.yaml` with `yaml` atomically (0600), through a symlink to the file it
    /// names, keeping the previous version as `identity.yaml.previous`. Returns both paths.
    @discardableResult
    public func replaceModel(with yaml: String) throws(NodeError) -> (path: String, previous: String) {
        let path = URL(fileURLWithPath: modelFile).resolvingSymlinksInPath().path
        let previous = path + ".previous"
        try? FileManager.default.removeItem(atPath: previous)
        try? FileManager.default.copyItem(atPath: path, toPath: previous)
        chmod(previous, 0o600)
        let temporary = path + ".saving-" + Hex.encode(Random.bytes(4))
        guard FileManager.default.createFile(atPath: temporary, contents: Data(yaml.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw NodeError("cannot write \(temporary): check the disk and the home folder's permissions")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw NodeError("cannot replace \(path): \(reason)")
        }
        return (path, previous)
    }
}
