import ArgumentParser
import Foundation
import KithModel
import KithNode

/// Shared by the commands that talk to a running node.
struct NodeCall {
    let home: NodeHome

    func call<T: Codable & Sendable>(_ command: ControlCommand, as type: T.Type) async throws -> T {
        guard home.isInitialised else {
            throw NodeError("no Kith identity in \(home.path): run `kith init --name NAME` first (or pass --home)")
        }
        return try await ControlClient.call(socket: home.controlSocket, command, as: type)
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Sends a command about one peer, prints the outcome, fails on `failed`.
    func peerCommand(_ command: (String) -> ControlCommand, did: String) async throws {
        let peer = try Identity(did: did)
        let outcome = try await call(command(peer.did), as: ConnectOutcome.self)
        print("\(outcome.outcome.rawValue): \(outcome.name.map { "\($0) " } ?? "")\(outcome.id) — \(outcome.message)")
        if outcome.outcome == .failed { throw ExitCode(1) }
    }

    static func time(_ ms: UInt64?) -> String {
        guard let ms else { return "never" }
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000))
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running node's state and counters.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let s = try await NodeCall(home: options.nodeHome).call(.status, as: StatusReport.self)
        if json { print(try NodeCall.json(s)); return }
        print("""
            \(s.name)  \(s.id)
            network \(s.network) · listening on \(s.listen) · manifest seq \(s.manifestSeq) · up \(s.uptimeSeconds) s
            connected \(s.connected) · friends \(s.friends) · pending requests \(s.pendingRequests) · known manifests \(s.knownManifests)
            tcp: \(s.tcp.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            """)
        func line(_ label: String, _ counters: [String: Int]) {
            guard !counters.isEmpty else { return }
            print("\(label): \(counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        }
        line("udp", s.udpCounters)
        line("gossip", s.gossip.filter { $0.value > 0 })
        line("conversations", s.conversations)
        line("requests", s.requests.filter { $0.value > 0 })
    }
}

struct Invite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print this node's invite: did:key:…@host:port, for `kith connect`.")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        print(try await NodeCall(home: options.nodeHome).call(.invite, as: String.self))
    }
}

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dial a node by public key and send a friend request; waits for and prints the answer.",
        discussion: "The other node answers by its policy.connect: auto accepts, ask queues it for `kith accept`, never refuses.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("The invite: did:key:…@HOST:PORT.", valueName: "DID@HOST:PORT")) var invite: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        guard let at = invite.firstIndex(of: "@"), let (host, port) = ListenAddress.parse(String(invite[invite.index(after: at)...])),
              port > 0 else {
            throw ValidationError("expected DID@HOST:PORT, as printed by `kith invite` on the other node")
        }
        let peer = try Identity(did: String(invite[..<at]))
        let outcome = try await NodeCall(home: options.nodeHome).call(
            .connect(did: peer.did, host: host, port: port), as: ConnectOutcome.self)
        if json { print(try NodeCall.json(outcome)) } else {
            print("\(outcome.outcome.rawValue): \(outcome.name.map { "\($0) " } ?? "")\(outcome.id) — \(outcome.message)")
        }
        if outcome.outcome == .failed || outcome.outcome == .declined { throw ExitCode(1) }
    }
}

struct Peers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List friends and open requests, with connection state and addresses.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let peers = try await NodeCall(home: options.nodeHome).call(.peers, as: [PeerReport].self)
        if json { print(try NodeCall.json(peers)); return }
        if peers.isEmpty { print("no peers yet: share `kith invite` and use `kith connect DID@HOST:PORT`") }
        for p in peers {
            let state = p.connected ? "connected" : "last seen \(NodeCall.time(p.lastSeen))"
            print("\(p.name ?? "?")  \(p.id)  \(p.relationship)  \(state)  \(p.addresses.joined(separator: " "))")
        }
    }
}

struct Requests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List friend requests waiting for `kith accept` or `kith decline`.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let list = try await NodeCall(home: options.nodeHome).call(.requests, as: [RequestReport].self)
        if json { print(try NodeCall.json(list)); return }
        if list.isEmpty { print("no pending requests or introductions") }
        for r in list {
            print("\(r.kind.rawValue): \((r.name ?? "?").terminalSafe)  \(r.id)  \(r.interests.joined(separator: ", ").terminalSafe)  received \(NodeCall.time(r.receivedAt))")
            if let conv = r.conversation {
                let match = r.match.map { "match \(Int(($0 * 100).rounded()))%" } ?? ""
                print("    your AIs agreed in conversation \(conv.prefix(12)) \(match)\(r.reasons.isEmpty ? "" : " — " + r.reasons.joined(separator: "; ").terminalSafe)")
                if let excerpt = r.excerpt, !excerpt.isEmpty { print("    they said: “\(excerpt.terminalSafe)”") }
            }
        }
        if !list.isEmpty { print("answer with `kith accept DID` or `kith decline DID`") }
    }
}

struct Accept: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accept a pending friend request.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The requester's did:key.") var did: String

    func run() async throws {
        try await NodeCall(home: options.nodeHome).peerCommand(ControlCommand.accept, did: did)
    }
}

struct Decline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decline a pending friend request.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The requester's did:key.") var did: String

    func run() async throws {
        try await NodeCall(home: options.nodeHome).peerCommand(ControlCommand.decline, did: did)
    }
}
