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
    @Option(help: "Most turns, 1 to 200 (the other side refuses more than its own limit).") var turns = 10

    func validate() throws {
        if !(1...200).contains(turns) { throw ValidationError("--turns must be from 1 to 200 (got \(turns))") }
    }

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
        let access = try? StoreAccess.open(home)
        let me = access?.1.did
        let peerName = (try? access?.0.manifest(of: peer))??.manifest.name ?? "someone"
        let input = StandardInputLines()
        let command = ControlCommand.chat(did: peer.did, host: host, port: port, topic: topic, turns: turns)
        let failed = try await ControlConnection.open(socket: home.controlSocket) { connection in
            try await connection.send(command)
            while let line = try await connection.next(ControlLine<String>.self) {
                guard case .event(let event) = line else {
                    if case .error(let message) = line {
                        print("failed: \(message)")
                        return true
                    }
                    return false
                }
                switch event.event {
                case .started:
                    print("conversation \(event.conv) — you are talking with the AI of \(peerName.terminalSafe) (\(peer.did))")
                    print("type a line and press enter; start it with /propose, /accept, /decline or /close to choose its kind; end of input closes")
                case .yourTurn:
                    FileHandle.standardOutput.write(Data("> ".utf8))
                    let said = await input.next()
                    if let said, isatty(0) == 0 { print(said) }
                    try await connection.send(ChatLine(say: said ?? "/close bye"))
                case .entry:
                    guard event.author != me else { continue }
                    let kind = event.kind ?? "say"
                    print("\(kind == "say" ? "" : "[\(kind)] ")\((event.text ?? "").terminalSafe)")
                case .ended: print("(ended; sealing)")
                case .complete: print("complete: sealed by both — `kith audit \(event.conv.prefix(12))`")
                case .failed:
                    print("failed: \(event.message ?? "")")
                    return true
                }
            }
            return false
        }
        if failed { throw ExitCode(1) }
    }
}

/// Lines of standard input, read on a thread of their own so no async code blocks on them.
final class StandardInputLines: Sendable {
    private let lines: AsyncStream<String>

    init() {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        self.lines = lines
        Thread {
            while let line = readLine(strippingNewline: true) { continuation.yield(line) }
            continuation.finish()
        }.start()
    }

    /// The next line, nil at the end of input.
    func next() async -> String? {
        var iterator = lines.makeAsyncIterator()
        return await iterator.next()
    }
}
