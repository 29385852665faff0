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
        if let dht = s.dht {
            if dht.mode == "disabled" {
                print("dht: off (--no-dht)")
            } else {
                let publish = dht.lastPublish.map { "last publish \(NodeCall.time($0.at)) (\($0.mode), \($0.bytes) bytes, stored on \($0.stored)/\($0.asked))" } ?? "not published yet"
                let resolve = dht.lastResolve.map { "last resolve \(NodeCall.time($0.at)) \($0.source) in \($0.milliseconds) ms" } ?? "no resolve yet"
                print("dht: \(dht.mode) record · \(dht.listen ?? "?")\(dht.readOnly ? " (read-only)" : "") · routing table \(dht.routingTable) · \(publish) · \(resolve)")
            }
        }
        if let r = s.reach {
            let seen: String = switch r.reachability {
            case "public": "public at \(r.observed ?? "?")"
            case "behind-nat": "behind NAT (punchable), seen at \(r.observed ?? "?")"
            case "behind-symmetric-nat": "behind a symmetric NAT (friends see a different port each: reached through relays)"
            default: r.observed.map { "unknown (one friend sees it at \($0); a second observer tells the NAT type)" } ?? "unknown (no friend has said where it sees this node yet)"
            }
            let relays = r.relays.isEmpty ? "no relays" : "relays \(r.relays.map { String($0.prefix(20)) + "…" + ($0.split(separator: "@").last.map { "@\($0)" } ?? "") }.joined(separator: ", "))"
            print("reach: \(seen) · \(relays) · \(r.relaying ? "relaying for friends (\(r.circuits) circuits open)" : "not relaying") · relayed sessions \(r.relayedSessions) · punched \(r.punched), punch failed \(r.punchFailed)")
        }
    }
}

struct Invite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print this node's invite for `kith connect`.",
        discussion: """
            With the DHT on and policy.dht: friends, the invite is the key alone, did:key:…?dht=KEY: \
            KEY reads this node's encrypted DHT record (until you next remove a friend). With \
            --address, or without the DHT, it ends in @HOST:PORT.
            """)
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Append @HOST:PORT (the address this node listens on).") var address = false

    func run() async throws {
        print(try await NodeCall(home: options.nodeHome).call(.invite(withAddress: address), as: String.self))
    }
}

/// An invite as `kith connect` and `kith resolve` take it: `did:key:…[?dht=KEY][@HOST:PORT]`.
struct InviteText {
    let did: String
    let dhtKey: String?
    let host: String?
    let port: Int?

    init(_ text: String) throws {
        var rest = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        var host: String?, port: Int?
        if let at = rest.firstIndex(of: "@") {
            guard let (h, p) = ListenAddress.parse(String(rest[rest.index(after: at)...])), p > 0 else {
                throw ValidationError("expected DID@HOST:PORT with a port from 1 to 65535, as printed by `kith invite` on the other node")
            }
            (host, port) = (h, p)
            rest = rest[..<at]
        }
        var dhtKey: String?
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            guard query.hasPrefix("dht="), query.count > 4 else {
                throw ValidationError("expected did:key:…?dht=KEY, as printed by `kith invite` on the other node")
            }
            dhtKey = String(query.dropFirst(4))
            rest = rest[..<question]
        }
        do { did = try Identity(did: String(rest)).did } catch {
            throw ValidationError("expected an invite (did:key:…, did:key:…?dht=KEY or DID@HOST:PORT, as printed by `kith invite` on the other node): \(error)")
        }
        self.dhtKey = dhtKey
        self.host = host
        self.port = port
    }
}

struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reach a node by public key and send a friend request; waits for and prints the answer.",
        discussion: """
            DID@HOST:PORT dials that address. A DID alone (or did:key:…?dht=KEY from `kith invite`) \
            is found by key: addresses this node knows, then connected friends, then the Mainline DHT. \
            The other node answers by its policy.connect: auto accepts, ask queues it for `kith accept`, never refuses.
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("The invite: did:key:…, did:key:…?dht=KEY or did:key:…@HOST:PORT.", valueName: "INVITE")) var invite: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let target = try InviteText(invite)
        let outcome = try await NodeCall(home: options.nodeHome).call(
            .connect(did: target.did, host: target.host, port: target.port, dhtKey: target.dhtKey), as: ConnectOutcome.self)
        if json { print(try NodeCall.json(outcome)) } else {
            print("\(outcome.outcome.rawValue): \(outcome.name.map { "\($0) " } ?? "")\(outcome.id) — \(outcome.message)")
        }
        if outcome.outcome == .failed || outcome.outcome == .declined { throw ExitCode(1) }
    }
}

struct Resolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look a person up in the Mainline DHT and print their records.",
        discussion: "Reads their friends record (with the key a friendship or an invite gave) and their public (pkarr) record.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("did:key:… or did:key:…?dht=KEY.", valueName: "DID")) var did: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let target = try InviteText(did)
        let report = try await NodeCall(home: options.nodeHome).call(.resolve(did: target.did, dhtKey: target.dhtKey), as: ResolveReport.self)
        if json { print(try NodeCall.json(report)); return }
        print(report.id)
        for (label, record) in [("friends record", report.friendsRecord), ("public record", report.publicRecord)] {
            guard let record else { continue }
            print("  \(label) (seq \(record.seq)): " + (record.tcp.map { "tcp=\($0)" } + record.udp.map { "udp=\($0)" }).joined(separator: " "))
        }
        print("  \(report.message)")
        if report.friendsRecord == nil && report.publicRecord == nil { throw ExitCode(1) }
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
            let state = p.connected ? "connected (\(p.session ?? "direct"))" : "last seen \(NodeCall.time(p.lastSeen))"
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
