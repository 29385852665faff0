import ArgumentParser
import Foundation
import KithModel
import KithNode
import KithStore

struct PeopleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "people",
        abstract: "Every identity whose signed manifest this node holds: friends, friends of friends, requests.",
        discussion: "Reads the node's database; works whether or not the node is running.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let (store, me) = try StoreAccess.open(options.nodeHome)
        let people = try People.list(store: store, me: me)
        if json { print(try NodeCall.json(people)); return }
        if people.isEmpty { print("nobody yet: connect to a friend with `kith connect DID@HOST:PORT`") }
        for p in people {
            let hops = p.hops.map { "\($0) hop\($0 == 1 ? "" : "s")" } ?? "unlinked"
            let flags = p.flags.isEmpty ? "" : "  [\(p.flags.joined(separator: ", "))]"
            print("\(p.name)  \(p.id)  \(hops)  seq \(p.seq)  updated \(NodeCall.time(p.updatedAt))\(flags)")
            if !p.interests.isEmpty { print("    interests: \(p.interests.joined(separator: ", "))") }
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one person's signed manifest as this node holds it.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Their did:key.") var did: String
    @Flag(help: "Print the manifest's fields at the top level of a JSON object.") var json = false

    func run() async throws {
        let (store, _) = try StoreAccess.open(options.nodeHome)
        let id = try Identity(did: did)
        guard let stored = try store.manifest(of: id) else {
            throw NodeError("no manifest of \(did) here yet: they are not within your friends' reach, or gossip has not brought it")
        }
        if json {
            print(try ManifestPresenter.json(stored.object, stored.manifest, network: nil))
        } else {
            print(ManifestPresenter.text(stored.object, stored.manifest, network: nil))
            if stored.equivocating { print("WARNING: this identity signed two different manifests with the same seq") }
        }
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the running node re-read identity.yaml; re-signs the manifest (seq + 1) if its public part changed.")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let report = try await NodeCall(home: options.nodeHome).call(.reload, as: ReloadReport.self)
        print(report.changed ? "manifest re-signed: seq \(report.seq), sent to friends" : "no public change: manifest stays at seq \(report.seq)")
    }
}

struct Unfriend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End a friendship with a signed revocation that gossips to your friends.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Their did:key.") var did: String

    func run() async throws {
        try await NodeCall(home: options.nodeHome).peerCommand(ControlCommand.unfriend, did: did)
    }
}

enum StoreAccess {
    static func open(_ home: NodeHome) throws -> (Store, Identity) {
        guard home.isInitialised else {
            throw NodeError("no Kith identity in \(home.path): run `kith init --name NAME` first (or pass --home)")
        }
        let store = try Store(path: home.databaseFile)
        guard let record = try store.ownIdentity() else { throw NodeError("\(home.databaseFile) has no identity recorded") }
        return (store, record.identity)
    }
}
