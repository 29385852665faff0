import Foundation
import HTTPTypes
import Hummingbird
public import KithNode
public import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The person's window: a local web app and JSON API (Hummingbird) over the node's control
/// commands, on a loopback address, behind a per-node secret token (`Protocol/dashboard.md`).
public final class Dashboard: Sendable {
    /// Where it serves by default.
    public static let defaultAddress = (host: "127.0.0.1", port: 7480)

    let runtime: NodeRuntime
    let token: DashboardToken
    let logger: Logger
    private let feed: ChangeFeed
    private let serving = NIOLockedValueBox<(group: ServiceGroup, task: Task<Void, Never>)?>(nil)
    private let chats = ChatRooms()
    private let codes = SignInCodes()
    private let served = NIOLockedValueBox<String?>(nil)

    /// Prepares the dashboard of `runtime`'s node (reads or creates its token).
    public init(runtime: NodeRuntime, home: NodeHome, logger: Logger) throws {
        self.runtime = runtime
        self.token = try DashboardToken.load(home: home)
        self.logger = logger
        self.feed = ChangeFeed(runtime: runtime)
    }

    /// True for the hosts the dashboard may listen on: loopback addresses written as IP
    /// literals (127.0.0.0/8, ::1) and `localhost` (plain HTTP carries the token; reach it from
    /// elsewhere through an SSH tunnel). A name like `127.0.0.1.example` is not loopback.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        var v4 = in_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 else { return false }
        return UInt32(bigEndian: v4.s_addr) >> 24 == 127
    }

    /// The address to open: the dashboard with a single-use sign-in code (valid for a minute).
    public func signInAddress() -> String? {
        guard let base = served.withLockedValue({ $0 }) else { return nil }
        return base + "#code=" + codes.issue()
    }

    /// Starts serving at `host:port` (port 0 picks one; `localhost` means 127.0.0.1) and returns
    /// its address (`http://127.0.0.1:7480/`); ``signInAddress()`` gives one to open.
    public func start(host: String, port: Int) async throws -> String {
        guard Self.isLoopback(host) else {
            throw NodeError("the dashboard listens on loopback only (got \(host)); from another machine use an SSH tunnel: ssh -L 7480:127.0.0.1:7480 HOST")
        }
        let host = host == "localhost" ? "127.0.0.1" : host
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let address = ServedAddress()
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestGuard(token: token, address: address))
        DashboardAPI(runtime: runtime, token: token, codes: codes, chats: chats, feed: feed).register(on: router)
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let (bound, sink) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let actual = channel.localAddress?.port ?? port
                address.bound(host: hostPart, port: actual)
                sink.yield(.success(actual))
            },
            logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        let task = Task {
            do { try await group.run() } catch { sink.yield(.failure(error)) }
            sink.finish()
        }
        var result: Result<Int, any Error> = .failure(NodeError("the dashboard stopped before it listened"))
        for await r in bound {
            result = r
            break
        }
        guard case .success(let actual) = result else {
            task.cancel()
            await task.value
            if case .failure(let error) = result {
                throw NodeError("cannot serve the dashboard on \(hostPart):\(port) (\(error)): pick another address with --dashboard HOST:PORT, or --no-dashboard")
            }
            throw NodeError("the dashboard did not start")
        }
        serving.withLockedValue { $0 = (group, task) }
        served.withLockedValue { $0 = "http://\(hostPart):\(actual)/" }
        return "http://\(hostPart):\(actual)/"
    }

    /// Stops serving: ends every open page's stream and chat, lets answers in flight finish
    /// (at most 3 s), then closes.
    public func stop() async {
        feed.stop()
        chats.closeAll()
        guard let (group, task) = serving.withLockedValue({ $0 }) else { return }
        await group.triggerGracefulShutdown()
        let deadline = Task {
            try? await Task.sleep(for: .seconds(3))
            task.cancel()
        }
        await task.value
        deadline.cancel()
    }
}
