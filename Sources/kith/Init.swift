import ArgumentParser
import KithModel
import KithNode

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new identity: a key, identity.yaml and the first signed manifest.",
        discussion: "Refuses to touch a home folder that already holds an identity.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Your name as your AI identity shows it (overrides the name in --from).")
    var name: String?

    @Option(name: .customLong("from"), help: ArgumentHelp("Copy this identity.yaml into the home folder.", valueName: "FILE"))
    var from: String?

    @Option(help: ArgumentHelp("The network to join (nodes of different networks never mix).", valueName: "NAME"))
    var network: String = NetworkID.defaultName

    @Flag(help: "Protect the key with a passphrase (Argon2id; read from $KITH_PASSPHRASE or asked).")
    var passphrase = false

    func run() async throws {
        options.bootstrapLogging()
        let home = options.nodeHome
        let secret = passphrase ? try Passphrase.forNewKey() : nil
        let context = try NodeHome.initialise(at: home, name: name, modelSource: from, network: network, passphrase: secret)
        let manifest = try context.currentManifest()
        print(context.identity.did)
        printErr("""
            Created \(context.model.name)'s identity in \(home.path)
              key:       \(home.keyFile)\(passphrase ? " (passphrase-protected)" : "")
              model:     \(home.modelFile)
              network:   \(network)
              manifest:  seq \(manifest.manifest.seq), \(manifest.object.bytes.count) bytes
            Next: edit identity.yaml, then run `kith manifest` to see your signed profile.
            """)
    }
}

/// Writes a line to standard error (messages for people, keeping stdout for data).
func printErr(_ text: String) {
    var stream = StandardError()
    print(text, to: &stream)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.writeToStandardError(string)
    }
}
