import ArgumentParser
import Foundation
import KithModel
import KithNode

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to someone's AI identity yourself: you type your turns, their AI answers.",
        discussion: """
            "To know me, talk to my AI ID." Your turns are signed with your key like any entry; their AI \
            answers under its policy and disclosure guard; the transcript is a normal auditable conversation. \
            Start a line with /propose, /accept, /decline or /close to choose the entry's kind; end of input closes.
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: ArgumentHelp("Whose AI to talk to.", valueName: "DID[@HOST:PORT]")) var target: String
    @Option(help: "What the conversation is about.") var topic = "getting to know you"
    @Option(help: "Most turns (the other side refuses more than its own limit).") var turns = 10

    func run() async throws {
        var did = target, host: String?, port: Int?
        if let at = target.firstIndex(of: "@") {
            did = String(target[..<at])
            guard let (h, p) = ListenAddress.parse(String(target[target.index(after: at)...])), p > 0 else {
                throw ValidationError("expected DID or DID@HOST:PORT")
            }
            (host, port) = (h, p)
        }
        let peer = try Identity(did: did)
        let home = options.nodeHome
        let connection = try ControlConnection(socket: home.controlSocket, timeout: 600)
        try connection.send(ControlRequest(cmd: "chat", did: peer.did, host: host, port: port, topic: topic, turns: turns))
        let me = (try? StoreAccess.open(home))?.1.did
        var failed = false
        while true {
            let object = try connection.readObject()
            guard let event = object["event"] as? [String: Any] else { break }
            switch event["event"] as? String {
            case "started": print("conversation \(event["conv"] as? String ?? "") — you are talking with their AI")
            case "your-turn":
                FileHandle.standardOutput.write(Data("> ".utf8))
                let line = readLine(strippingNewline: true)
                try connection.send(["say": line ?? "/close bye"])
            case "entry":
                guard (event["author"] as? String) != me else { continue }
                let kind = event["kind"] as? String ?? "say"
                print("\(kind == "say" ? "" : "[\(kind)] ")\(event["text"] as? String ?? "")")
            case "ended": print("(ended; sealing)")
            case "complete": print("complete: sealed by both — `kith audit \((event["conv"] as? String ?? "").prefix(12))`")
            default:
                failed = true
                print("failed: \(event["message"] as? String ?? "")")
            }
        }
        if failed { throw ExitCode(1) }
    }
}
