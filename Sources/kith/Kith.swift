import ArgumentParser

@main
struct Kith: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kith",
        abstract: "A peer-to-peer node for AI identities.",
        discussion: """
            Start with `kith init --name NAME`, edit $KITH_HOME/identity.yaml, then `kith manifest` \
            to see your signed public profile. KITH_HOME defaults to ~/.kith; --home overrides it.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, ID.self, ManifestCommand.self, Verify.self,
            Run.self, Status.self, Invite.self, Connect.self, Resolve.self, Peers.self, Requests.self, Accept.self, Decline.self, Unfriend.self, PeopleCommand.self, Show.self, Reload.self,
            Talk.self, Conversations.self, Log.self, Export.self, Audit.self, Close.self, Suggestions.self, Chat.self, DashboardCommand.self, Memories.self, DisclosuresCommand.self,
            Backup.self, Restore.self, Demo.self, Bench.self, Simulate.self,
        ]
    )
}
