import ArgumentParser
import Foundation
import KithModel
import KithNode
import KithPersona
import KithStore
import Logging

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Ada, Ben and Cleo as three nodes on loopback and watch two AI identities meet through a friend.",
        discussion: """
            Ada–Ben and Ben–Cleo become friends; Ada learns Cleo's manifest through Ben; Ada's AI (embedded \
            engine) talks with Cleo's, proposes a connection, Cleo's AI accepts and Cleo approves; every \
            transcript is audited and exported. Everything runs in this process and stays on 127.0.0.1.
            """)

    @Option(help: ArgumentHelp("Keep the nodes' folders and exports here (default: a new temporary folder).", valueName: "DIR"))
    var dir: String?

    func run() async throws {
        let started = Date()
        let base = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("kith-demo-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let examples = try Self.examplesFolder()
        var logger = Logger(label: "demo")
        logger.logLevel = .critical
        func say(_ text: String) { print(text) }
        func step(_ text: String) { print("\n== \(text)") }

        step("Three people create their identities from Examples/")
        var nodes: [String: (runtime: NodeRuntime, port: Int, home: NodeHome)] = [:]
        for who in ["ada", "ben", "cleo"] {
            let home = NodeHome(path: base + "/" + who)
            let context = try NodeHome.initialise(at: home, name: nil, modelSource: examples + "/\(who).yaml", network: "demo",
                                                  passphrase: nil, cost: .interactive)
            var options = RunOptions()
            options.listenPort = 0
            let runtime = try NodeRuntime(context: try home.open(passphrase: nil), options: options, logger: logger)
            let ready = try await runtime.start()
            nodes[who] = (runtime, ready.port, home)
            say("\(context.model.name.padding(toLength: 5, withPad: " ", startingAt: 0)) \(context.identity.did)  (\(context.model.interests.joined(separator: ", ")))")
        }
        let ada = nodes["ada"]!, ben = nodes["ben"]!, cleo = nodes["cleo"]!
        func stopAll() async { for n in nodes.values { await n.runtime.stop() } }

        do {
            step("Friends by public key: Ada → Ben and Cleo → Ben; Ben approves both (his policy is ask)")
            for (who, node) in [("Ada", ada), ("Cleo", cleo)] {
                let outcome = await node.runtime.connect(to: ben.runtime.identity, host: "127.0.0.1", port: ben.port)
                say("\(who) → Ben: \(outcome.outcome.rawValue)")
                let approved = await ben.runtime.accept(node.runtime.identity)
                say("Ben approves \(who): \(approved.message)")
            }

            step("Gossip: Ada learns Cleo's signed manifest through Ben")
            let adaStore = try ada.home.open(passphrase: nil).store
            guard await Self.waitFor(10, { try People.list(store: adaStore, me: ada.runtime.identity).contains { $0.name == "Cleo" && $0.hops == 2 } }) else {
                throw NodeError("gossip did not bring Cleo's manifest to Ada in time")
            }
            let cleoRow = try People.list(store: adaStore, me: ada.runtime.identity).first { $0.name == "Cleo" }!
            say("Ada's node now knows Cleo (2 hops, manifest seq \(cleoRow.seq)): \(cleoRow.interests.joined(separator: ", "))")

            step("Ada's AI suggests a meeting (her policy.meet is ask), and Ada agrees")
            if await Self.waitFor(5, { await ada.runtime.currentSuggestions().contains { $0.id == cleo.runtime.identity.did } }),
               let suggestion = await ada.runtime.currentSuggestions().first(where: { $0.id == cleo.runtime.identity.did }) {
                say("Suggestion: meet \(suggestion.name) — shared interests: \(suggestion.shared.joined(separator: ", "))")
            }

            step("Ada's AI meets Cleo's AI, introduced by Ben: Ada's node knows no address for Cleo (addresses go to friends only), so it asks Ben; Ben asks Cleo's node, whose policy lets friends of friends talk, and passes each side's address to the other")
            var transcript: [(String, String, String)] = []
            var conv = ""
            let names = [ada.runtime.identity.did: "Ada's AI", cleo.runtime.identity.did: "Cleo's AI"]
            for await event in await ada.runtime.talk(to: cleo.runtime.identity, host: nil, port: nil, topic: "poetry and climbing", turns: 10) {
                switch event.event {
                case .started: conv = event.conv
                case .entry:
                    let who = names[event.author ?? ""] ?? "?"
                    transcript.append((who, event.kind ?? "", event.text ?? ""))
                    say("#\(event.seq ?? 0) \(who)\(event.kind == "say" ? "" : " [\(event.kind ?? "")]"): \(event.text ?? "")")
                case .failed: throw NodeError("the conversation failed: \(event.message ?? "")")
                default: break
                }
            }

            step("The AIs agreed; the people decide: Cleo and Ada approve (both policies are ask)")
            let proposed = transcript.contains { $0.1 == "propose" }, accepted = transcript.contains { $0.1 == "accept" }
            var connected = false
            if proposed && accepted, await Self.waitFor(5, { await cleo.runtime.requests().contains { $0.id == ada.runtime.identity.did } }) {
                if let intro = await cleo.runtime.requests().first(where: { $0.id == ada.runtime.identity.did }) {
                    say("Cleo's `kith requests`: \(intro.kind.rawValue) from Ada, match \(Int(((intro.match ?? 0) * 100).rounded()))%")
                }
                let outcome = await cleo.runtime.accept(ada.runtime.identity)
                say("Cleo approves Ada: \(outcome.message)")
                if await Self.waitFor(5, { await ada.runtime.requests().contains { $0.id == cleo.runtime.identity.did && $0.kind == .request } }) {
                    let answer = await ada.runtime.accept(cleo.runtime.identity)
                    say("Ada approves Cleo: \(answer.message)")
                }
                connected = await Self.waitFor(5, { await cleo.runtime.relationship(with: ada.runtime.identity) == .friends })
            }

            step("Audit and export")
            var verdicts: [String] = []
            for (who, node) in [("Ada", ada), ("Cleo", cleo)] {
                let store = try node.home.open(passphrase: nil).store
                let id = try store.resolveConversation(conv)
                guard let records = try store.conversationRecords(id), let log = try store.loadConversation(id) else { continue }
                let audit = ConversationLog.audit(records, now: UInt64(Date().timeIntervalSince1970 * 1000))
                let file = base + "/\(who.lowercased())-conversation.kithlog"
                try KithLog.export(records).write(toFile: file, atomically: true, encoding: .utf8)
                var nameMap: [Identity: String] = [:]
                for p in log.participants { nameMap[p] = p == ada.runtime.identity ? "Ada" : "Cleo" }
                try KithLog.markdown(log, names: nameMap).write(toFile: base + "/\(who.lowercased())-conversation.md", atomically: true, encoding: .utf8)
                verdicts.append("\(who)'s copy: \(audit.problems.isEmpty ? "valid, complete, sealed by both" : "FAILED: \(audit.problems[0])") (\(audit.validEntries) entries) → \(file)")
            }
            verdicts.forEach(say)
            let identical = (try? Data(contentsOf: URL(fileURLWithPath: base + "/ada-conversation.kithlog")))
                == (try? Data(contentsOf: URL(fileURLWithPath: base + "/cleo-conversation.kithlog")))

            // The match as Ada's engine saw it at the end.
            let adaModel = try ada.home.loadModel()
            let cleoModel = try cleo.home.loadModel()
            let assessment = Assessment.embedded(TurnContext(
                persona: adaModel, memories: MemoryFilter.permitted(adaModel, peerIsFriend: false), peerName: "Cleo",
                peerInterests: cleoModel.interests, peerIsFriend: false, topic: "poetry and climbing",
                transcript: transcript.map { .init(mine: $0.0 == "Ada's AI", kind: ConversationEntry.Kind(rawValue: $0.1) ?? .say, text: $0.2) },
                turnsLeft: 0))

            let introducer = await ada.runtime.introducer(of: cleo.runtime.identity)
            step("Summary")
            say("Ada met Cleo through their mutual friend Ben (2 hops)\(introducer == ben.runtime.identity ? ", who introduced them" : "").")
            say("Match (Ada's AI): \(Int((assessment.score * 100).rounded()))% — \(assessment.reasons.joined(separator: "; "))")
            if let first = transcript.first(where: { $0.0 == "Cleo's AI" }) { say("Excerpt: “\(first.2.prefix(160))”") }
            say("Proposal: \(proposed ? "made" : "not made"), \(accepted ? "accepted by Cleo's AI" : "not accepted"); connection: \(connected ? "Ada and Cleo are now friends (co-signed records)" : "not made")")
            say("Audits: \(verdicts.allSatisfy { $0.contains("valid, complete") } ? "all transcripts valid" : "PROBLEMS") · exports byte-identical: \(identical ? "yes" : "no")")
            say("Files: \(base)  (nodes' folders, .kithlog and .md exports)")
            say(String(format: "Done in %.1f s.", Date().timeIntervalSince(started)))
        } catch {
            await stopAll()
            throw error
        }
        await stopAll()
    }

    /// `Examples/` next to the working directory or the source tree.
    static func examplesFolder() throws -> String {
        let candidates = [FileManager.default.currentDirectoryPath + "/Examples",
                          URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/Examples"]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/ada.yaml") }) else {
            throw NodeError("cannot find Examples/ada.yaml: run `kith demo` from the repository folder")
        }
        return found
    }

    static func waitFor(_ seconds: Double, _ condition: () async throws -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return (try? await condition()) == true
    }
}
