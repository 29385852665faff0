import ArgumentParser
import Foundation
import KithModel
import KithNode
import KithStore

struct Talk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Let your AI identity talk with someone's; prints turns as they happen and the conversation id.",
        discussion: "DID@HOST:PORT reaches someone not known yet; a bare DID uses known addresses.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("Who to talk to.", valueName: "DID[@HOST:PORT]")) var target: String
    @Option(help: "What the conversation is about.") var topic = "getting to know each other"
    @Option(help: "Most turns before only a close is allowed (1 to 200).") var turns: Int?
    @Flag(help: "Print events as JSON lines.") var json = false

    func validate() throws {
        if let turns, !(1...200).contains(turns) { throw ValidationError("--turns must be from 1 to 200 (got \(turns))") }
    }

    func run() async throws {
        var did = target
        var host: String?
        var port: Int?
        if let at = target.firstIndex(of: "@") {
            did = String(target[..<at])
            guard let (h, p) = ListenAddress.parse(String(target[target.index(after: at)...])), p > 0 else {
                throw ValidationError("expected DID or DID@HOST:PORT")
            }
            host = h
            port = p
        }
        let peer = try Identity(did: did)
        let home = options.nodeHome
        guard home.isInitialised else { throw NodeError("no Kith identity in \(home.path): run `kith init` first") }
        let printer = TalkPrinter(home: home, json: json)
        _ = try await ControlClient.call(socket: home.controlSocket, .talk(did: peer.did, host: host, port: port, topic: topic, turns: turns),
                                         as: String.self, timeout: .seconds(600)) { event in printer.show(event) }
        if let refusal = printer.refusal {
            printErr("their AI declined: \(refusal.terminalSafe) — their policy refuses this conversation for now; "
                     + "become friends first (`kith connect`), or try again later")
            throw ExitCode(1)
        }
        if printer.failed { throw ExitCode(1) }
    }
}

/// Prints a conversation's events as `kith talk` shows them.
final class TalkPrinter: @unchecked Sendable {
    // Sendable: the mutable state is only touched under `lock`.
    let home: NodeHome
    let json: Bool
    private let state = Locked<(names: [String: String], failed: Bool, refusal: String?)>(([:], false, nil))
    private let mine: String?

    init(home: NodeHome, json: Bool) {
        self.home = home
        self.json = json
        mine = (try? StoreAccess.open(home))?.1.did
    }

    var failed: Bool { state.withLock { $0.failed } }
    /// The peer's refusal (its `decline` at seq 2), if it refused.
    var refusal: String? { state.withLock { $0.refusal } }

    func show(_ event: TalkEvent) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return print(String(decoding: (try? encoder.encode(event)) ?? Data(), as: UTF8.self))
        }
        switch event.event {
        case .started: print("conversation \(event.conv) — topic: \(event.text ?? "")")
        case .entry:
            let author = event.author ?? "?"
            let name = state.withLock { $0.names[author] } ?? (author == mine ? "you (your AI)"
                : (try? ConversationNames.name(of: Identity(did: author), conv: event.conv, store: StoreAccess.open(home).0)) ?? String(author.prefix(20)))
            state.withLock { $0.names[author] = name }
            if event.seq == 2, event.kind == "decline", author != mine { state.withLock { $0.refusal = event.text ?? "" } }
            let kind = event.kind == "say" ? "" : " [\(event.kind ?? "")]"
            print("#\(event.seq ?? 0) \(name.terminalSafe)\(kind): \((event.text ?? "").terminalSafe)")
        case .ended: print("ended; waiting for both seals…")
        case .complete: print("complete: sealed by both. Audit it with `kith audit \(event.conv.prefix(12))`")
        case .yourTurn: break
        case .failed:
            state.withLock { $0.failed = true }
            print("failed: \((event.message ?? "unknown error").terminalSafe)")
        }
    }
}

struct Suggestions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Friends of friends your AI would like you to meet (policy.meet: ask); start one with `kith talk DID`.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let list = try await NodeCall(home: options.nodeHome).call(.suggestions, as: [Suggestion].self)
        if json { print(try NodeCall.json(list)); return }
        if list.isEmpty { print("no suggestions yet: they appear when gossip brings friends of friends with shared interests") }
        for s in list { print("\(s.name)  \(s.id)  shared: \(s.shared.joined(separator: ", "))  → kith talk \(s.id)") }
    }
}

struct Close: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End an unfinished conversation now with a signed close, and seal it (when the other side went away).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Conversation id (a unique prefix is enough).") var conv: String
    @Option(help: "The closing words.") var reason = "Closing: the conversation was interrupted."

    func run() async throws {
        let (store, _) = try StoreAccess.open(options.nodeHome)
        let id = try store.resolveConversation(conv)
        let event = try await NodeCall(home: options.nodeHome).call(.close(conv: Hex.encode(id), text: reason), as: TalkEvent.self)
        print("\(event.event.rawValue): \(event.conv.prefix(16)) — \(event.message ?? "")")
        if event.event == .failed { throw ExitCode(1) }
    }
}

struct Conversations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List conversations: id, with, topic, entries, state.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print a JSON array.") var json = false

    func run() async throws {
        let (store, _) = try StoreAccess.open(options.nodeHome)
        let list = try store.conversations()
        if json { print(try NodeCall.json(list)); return }
        if list.isEmpty { print("no conversations yet: start one with `kith talk DID`") }
        for c in list {
            let name = (try? ConversationNames.name(of: Identity(did: c.with), conv: c.id, store: store)) ?? c.with
            print("\(c.id.prefix(16))  \(name)  \"\(c.topic)\"  \(c.entries) entries  \(c.state)")
        }
    }
}

struct Log: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a readable transcript of a conversation.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Conversation id (a unique prefix is enough).") var conv: String

    func run() async throws {
        let (store, _) = try StoreAccess.open(options.nodeHome)
        let id = try store.resolveConversation(conv)
        guard let log = try store.loadConversation(id) else { throw NodeError("no conversation \(conv)") }
        print(KithLog.markdown(log, names: ConversationNames.names(log, store: store)).terminalSafe, terminator: "")
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a conversation as kithlog (for auditors) or Markdown (for people).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Conversation id (a unique prefix is enough).") var conv: String
    @Option(help: "kithlog or md.") var format = "kithlog"
    @Option(help: ArgumentHelp("Output file (- for standard output).", valueName: "FILE")) var out: String

    func validate() throws {
        guard ["kithlog", "md"].contains(format) else { throw ValidationError("--format must be kithlog or md") }
    }

    func run() async throws {
        let (store, _) = try StoreAccess.open(options.nodeHome)
        let id = try store.resolveConversation(conv)
        guard let records = try store.conversationRecords(id), let log = try store.loadConversation(id) else { throw NodeError("no conversation \(conv)") }
        let text = format == "md" ? KithLog.markdown(log, names: ConversationNames.names(log, store: store))
                                  : KithLog.export(records)
        if out == "-" { print(text, terminator: ""); return }
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
            throw NodeError("cannot write \(out): \(error.localizedDescription)")
        }
        printErr("wrote \(log.entries.count) entries of \(Hex.encode(id).prefix(16)) to \(out) (\(format))")
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a conversation: every signature, the chain, seq, turns, authorship and both seals.",
        discussion: "Exit 0 only for a complete, sealed, valid conversation (--allow-open also accepts a valid unsealed one); 1 otherwise.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "A conversation id (or unique prefix) in this node's store, or a kithlog file.") var target: String?
    @Flag(help: "Audit every conversation in the store.") var all = false
    @Flag(help: "Accept a valid conversation that is not closed and sealed yet.") var allowOpen = false
    @Flag(help: "Print every problem as JSON.") var json = false

    struct Result: Codable {
        var target: String
        var conv: String?
        var entries: Int
        var valid: Bool
        var complete: Bool
        var problems: [LogProblem]
        /// Who produced each valid entry, per author: `ai (embedded)`, `person`, `node`, or
        /// `not recorded` (version 1 entries).
        var producers: [String: [String: Int]]
        /// What could not be checked, though nothing is wrong.
        var notes: [String]
    }

    func validate() throws {
        if all == (target != nil) { throw ValidationError("give a conversation id or a file, or --all") }
    }

    func run() async throws {
        var results: [Result] = []
        if all {
            let (store, _) = try StoreAccess.open(options.nodeHome)
            let list = try store.conversations()
            for (i, c) in list.enumerated() {
                if isatty(STDERR_FILENO) == 1 { printErr("auditing \(i + 1)/\(list.count)…") }
                results.append(try auditStored(Hex.decode(c.id)!, store: store, label: c.id))
            }
        } else if let target, FileManager.default.fileExists(atPath: target) {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: target)) } catch { throw NodeError("cannot read \(target)") }
            if data.count > 10 << 20 && isatty(STDERR_FILENO) == 1 { printErr("auditing \(data.count >> 20) MiB…") }
            results.append(auditFile(target, data: [UInt8](data)))
        } else if let target {
            if target.contains("/") || target.hasSuffix(".kithlog") || target.hasSuffix(".jsonl") {
                throw NodeError("no file \(target): check the path (or give a conversation id from `kith conversations`)")
            }
            let (store, _) = try StoreAccess.open(options.nodeHome)
            results.append(try auditStored(try store.resolveConversation(target), store: store, label: target))
        }
        if json {
            print(try NodeCall.json(all ? AnyResults.many(results) : AnyResults.one(results[0])))
        } else {
            for r in results {
                if r.valid && (r.complete || allowOpen) {
                    print("ok: \(r.conv ?? r.target) — \(r.entries) entries, \(r.complete ? "complete and sealed by both" : "valid, not sealed yet")")
                    for (author, counts) in r.producers.sorted(by: { $0.key < $1.key }) {
                        print("  \(author): " + counts.sorted { $0.key < $1.key }.map { "\($0.value) by \($0.key)" }.joined(separator: ", "))
                    }
                    for note in r.notes { print("  note: \(note)") }
                } else {
                    let first = r.problems.first.map(\.description) ?? "incomplete"
                    print("FAILED: \(r.conv ?? r.target) — \(first)\(r.problems.count > 1 ? " (+\(r.problems.count - 1) more; --json lists all)" : "")")
                }
            }
            if all { print("\(results.count) conversations audited") }
        }
        if results.contains(where: { !($0.valid && ($0.complete || allowOpen)) }) { throw ExitCode(1) }
    }

    private func auditFile(_ target: String, data: [UInt8]) -> Result {
        let file: KithLog.Records
        do { file = try KithLog.parse(data) } catch {
            return Result(target: target, conv: nil, entries: 0, valid: false, complete: false, problems: [error], producers: [:], notes: [])
        }
        return result(target, KithLog.audit(file, now: Self.now), entries: file.entries)
    }

    private func auditStored(_ id: [UInt8], store: Store, label: String) throws -> Result {
        guard let records = try store.conversationRecords(id) else { throw NodeError("no conversation \(label)") }
        return result(label, ConversationLog.audit(records, now: Self.now), entries: records.entries)
    }

    private static var now: UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    private func result(_ target: String, _ audit: AuditResult, entries: [SignedObject]) -> Result {
        // Being open or unsealed is a problem only without --allow-open.
        let structural = audit.problems.filter { !($0.record == "log" && allowOpen) }
        var producers: [String: [String: Int]] = [:]
        for object in entries.prefix(audit.validEntries) {
            guard let entry = try? ConversationEntry.decode(object) else { continue }
            producers[entry.author.did, default: [:]][entry.producer?.description ?? "not recorded", default: 0] += 1
        }
        return Result(target: target, conv: audit.id.map(Hex.encode), entries: audit.validEntries,
                      valid: structural.isEmpty, complete: audit.isComplete, problems: audit.problems, producers: producers, notes: audit.notes)
    }

    enum AnyResults: Encodable {
        case one(Result), many([Result])
        func encode(to encoder: any Encoder) throws {
            switch self {
            case .one(let r): try r.encode(to: encoder)
            case .many(let rs): try rs.encode(to: encoder)
            }
        }
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    // Sendable: `value` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
