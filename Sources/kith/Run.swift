import ArgumentParser
import Dispatch
import Foundation
import KithModel
import KithNet
import KithDashboard
import KithNode
import Logging

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node in the foreground until SIGINT or SIGTERM.",
        discussion: """
            Prints `ready <did> tcp://HOST:PORT` once it accepts connections. Other commands \
            (status, invite, connect, peers, requests, accept, decline) talk to it over \
            $KITH_HOME/control.sock.
            """)

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("TCP address to listen on (port 0 picks a free port).", valueName: "HOST:PORT"))
    var listen = "127.0.0.1:7400"

    @Option(help: ArgumentHelp("Host to publish in the manifest and invites (default: the listen host).", valueName: "HOST"))
    var advertise: String?

    @Option(help: ArgumentHelp("UDP address for signed datagrams.", valueName: "HOST:PORT"))
    var udp: String?

    @Option(help: "Most concurrent inbound connections (established or handshaking).")
    var maxConnections = TransportLimits().maxConnections

    @Option(help: "Most concurrent outbound connections (counted apart from inbound ones).")
    var maxOutbound = TransportLimits().maxOutbound

    @Option(help: "Inbound sessions kept for friends (strangers share the rest).")
    var reservedForFriends = TransportLimits().reservedForFriends

    @Option(help: "Most concurrent inbound connections from one network (an IPv4 /24, an IPv6 /64).")
    var maxConnectionsPerNetwork = TransportLimits().maxConnectionsPerNetwork

    @Option(help: "Most concurrent inbound handshakes from one network (an IPv4 /24, an IPv6 /64).")
    var maxHandshakesPerNetwork = TransportLimits().maxHandshakesPerNetwork

    @Option(help: "Replicate manifests of identities within this many hops (1-3).")
    var hops = 2

    @Flag(help: "Announce this node on the LAN (needs --udp; sends to --lan-target addresses).")
    var lan = false

    @Option(help: ArgumentHelp("Where LAN announcements go, e.g. a broadcast address (repeatable).", valueName: "HOST:PORT"))
    var lanTarget: [String] = []

    @Flag(help: "Stop when the process that started this one exits (for supervisors and test harnesses).")
    var exitWithParent = false

    @Option(help: ArgumentHelp("Mainline DHT nodes to join through (default: the public routers).", valueName: "HOST:PORT,…"))
    var dhtBootstrap: String?

    @Option(help: ArgumentHelp("UDP address of the DHT socket (default: the listen host, the listen port + 1).", valueName: "HOST:PORT"))
    var dhtListen: String?

    @Flag(help: "Do not join the Mainline DHT (no record published; peers are found only by address and through friends).")
    var noDht = false

    @Flag(help: "Join the DHT read-only (BEP 43): ask, never answer; for a node others cannot reach. Without it the node turns read-only by itself when two DHT nodes see it behind a NAT that rewrites its port.")
    var dhtReadOnly = false

    @Option(help: ArgumentHelp("Where the local dashboard serves (loopback only; default 127.0.0.1:7480, or a free port when that one is taken).", valueName: "HOST:PORT"))
    var dashboard: String?

    @Flag(help: "Do not serve the local dashboard (web app and JSON API).")
    var noDashboard = false

    func validate() throws {
        if let dashboard {
            guard let (host, _) = ListenAddress.parse(dashboard) else { throw ValidationError("--dashboard must be HOST:PORT, like 127.0.0.1:7480") }
            guard Dashboard.isLoopback(host) else {
                throw ValidationError("--dashboard must be a loopback address (127.0.0.1, ::1, localhost); from another machine use an SSH tunnel")
            }
            if noDashboard { throw ValidationError("give --dashboard or --no-dashboard, not both") }
        }
        guard ListenAddress.parse(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, like 127.0.0.1:7400") }
        if let udp, ListenAddress.parse(udp) == nil { throw ValidationError("--udp must be HOST:PORT") }
        if lan && udp == nil { throw ValidationError("--lan needs --udp HOST:PORT") }
        guard (1...3).contains(hops) else { throw ValidationError("--hops must be 1, 2 or 3") }
        if let dhtListen, ListenAddress.parse(dhtListen) == nil { throw ValidationError("--dht-listen must be HOST:PORT") }
        for node in dhtNodes where ListenAddress.parse(node).map({ $0.1 > 0 }) != true {
            throw ValidationError("--dht-bootstrap must be HOST:PORT[,HOST:PORT…] with ports 1-65535 (got \(node))")
        }
        if noDht && (dhtBootstrap != nil || dhtListen != nil || dhtReadOnly) {
            throw ValidationError("--no-dht turns the DHT off: drop --dht-bootstrap, --dht-listen and --dht-read-only")
        }
        guard (1...100_000).contains(maxConnections) else { throw ValidationError("--max-connections must be 1…100000") }
        guard (1...100_000).contains(maxOutbound), (0...maxConnections).contains(reservedForFriends) else {
            throw ValidationError("--max-outbound must be 1…100000 and --reserved-for-friends 0…--max-connections")
        }
        guard (1...100_000).contains(maxConnectionsPerNetwork), (1...100_000).contains(maxHandshakesPerNetwork) else {
            throw ValidationError("--max-connections-per-network and --max-handshakes-per-network must be 1…100000")
        }
    }

    /// The `--dht-bootstrap` list.
    var dhtNodes: [String] {
        (dhtBootstrap ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        options.bootstrapLogging()
        let logger = Logger(label: "kith")
        let home = options.nodeHome
        let context = try home.open(passphrase: try Passphrase.forOpening(home))
        var runOptions = RunOptions()
        let (host, port) = ListenAddress.parse(listen)!
        runOptions.listenHost = host
        runOptions.listenPort = port
        runOptions.advertiseHost = advertise
        if let udp, let (uh, up) = ListenAddress.parse(udp) {
            runOptions.udpHost = uh
            runOptions.udpPort = up
        }
        runOptions.lan = lan
        runOptions.lanTargets = lanTarget
        runOptions.hops = hops
        if !noDht {
            let (dhtHost, dhtPort) = dhtListen.flatMap(ListenAddress.parse) ?? (host, port == 0 ? 0 : (port % 65_535) + 1)
            var dht = DHTOptions(host: dhtHost, port: dhtPort, bootstrap: dhtBootstrap == nil ? DHTOptions.publicRouters : dhtNodes,
                                 readOnly: dhtReadOnly)
            dht.portIsDefault = dhtListen == nil
            runOptions.dht = dht
        }
        var limits = TransportLimits()
        limits.maxConnections = maxConnections
        limits.maxOutbound = maxOutbound
        limits.reservedForFriends = reservedForFriends
        limits.maxConnectionsPerNetwork = maxConnectionsPerNetwork
        limits.maxHandshakesPerNetwork = maxHandshakesPerNetwork
        FileDescriptorLimit.raise(toAtLeast: maxConnections + maxOutbound + 64)
        let runtime = try NodeRuntime(context: context, options: runOptions, logger: logger, limits: limits)
        let signals = SignalWaiter([SIGINT, SIGTERM])
        if exitWithParent { signals.stopWhenParentExits() }
        let ready: ReadyLine
        do { ready = try await runtime.start() } catch {
            await runtime.stop()
            throw error
        }
        let window: Dashboard?
        do { window = try await startDashboard(runtime, home: home, logger: logger) } catch {
            await runtime.stop()
            throw error
        }
        // Unbuffered, so a supervising process sees the line at once even through a pipe.
        FileHandle.standardOutput.write(Data((ready.description + "\n").utf8))
        let signal = await signals.next()
        logger.notice("stopping", metadata: ["signal": "\(signal == SignalWaiter.parentExited ? "parent exited" : "\(signal)")"])
        await window?.stop()
        await runtime.stop()
    }

    /// Serves the dashboard at --dashboard, or at 127.0.0.1:7480 (a free port when that one is
    /// taken, as by a second node on this machine); nil with --no-dashboard.
    private func startDashboard(_ runtime: NodeRuntime, home: NodeHome, logger: Logger) async throws -> Dashboard? {
        guard !noDashboard else { return nil }
        let window = try Dashboard(runtime: runtime, home: home, logger: logger)
        let url: String
        if let dashboard, let (host, port) = ListenAddress.parse(dashboard) {
            url = try await window.start(host: host, port: port)
        } else {
            let (host, port) = Dashboard.defaultAddress
            do { url = try await window.start(host: host, port: port) } catch {
                logger.notice("the dashboard's usual port is taken; serving on a free one", metadata: ["port": "\(port)"])
                url = try await window.start(host: host, port: 0)
            }
        }
        await runtime.setDashboard(signIn: { [window] in window.signInAddress() })
        logger.notice("dashboard ready: `kith dashboard` prints its address", metadata: ["at": "\(url)"])
        return window
    }
}

/// Parses `HOST:PORT` (port 0…65535; IPv6 in brackets).
enum ListenAddress {
    static func parse(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let digits = text[text.index(after: colon)...]
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let port = Int(digits), (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0 == "@" || $0.isWhitespace }) else { return nil }
        return (host, port)
    }
}

/// Turns SIGINT/SIGTERM (and, when asked, the parent's exit) into an awaitable value.
final class SignalWaiter {
    /// What ``next()`` returns when the parent process exited.
    static let parentExited: Int32 = -1
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        self.stream = stream
        self.continuation = continuation
        sources = signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            return source
        }
    }

    /// Yields ``parentExited`` once this process is re-parented (its parent exited), checked
    /// every second.
    func stopWhenParentExits() {
        let parent = getppid(), continuation = continuation, exited = Self.parentExited
        Task.detached {
            while getppid() == parent { try? await Task.sleep(for: .seconds(1)) }
            continuation.yield(exited)
        }
    }

    func next() async -> Int32 {
        for await sig in stream { return sig }
        return 0
    }
}
