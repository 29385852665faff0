import ArgumentParser
import KithNode
import KithStore

struct ID: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "id", abstract: "Print this node's identity (did:key). Needs no passphrase.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        options.bootstrapLogging()
        let home = options.nodeHome
        guard home.isInitialised else {
            throw NodeError("no Kith identity in \(home.path): run `kith init --name NAME` first (or pass --home)")
        }
        let store = try Store(path: home.databaseFile)
        guard let record = try store.ownIdentity() else {
            throw NodeError("\(home.databaseFile) has no identity recorded: it was not created by `kith init`")
        }
        print(record.identity.did)
    }
}
