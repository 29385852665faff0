import Foundation
import HTTPTypes
import Hummingbird
import KithNode
import NIOConcurrencyHelpers

/// Server-sent events that keep the page live: every half second the feed looks at what each
/// page shows and sends `event: change` with the topics that changed (`home`, `people`,
/// `requests`, `conversations`, `identity`); the page re-reads those. A comment every 5 s
/// keeps idle connections open and finds pages that went away.
final class ChangeFeed: Sendable {
    let runtime: NodeRuntime
    /// Most pages listening at once.
    static let limit = 16
    static let interval: Duration = .milliseconds(500)
    private let listeners = NIOLockedValueBox(0)
    private let stopped = NIOLockedValueBox(false)
    /// One look at the node serves every page within the interval.
    private let latest = Latest()

    init(runtime: NodeRuntime) { self.runtime = runtime }

    /// Ends every stream (the node is stopping).
    func stop() { stopped.withLockedValue { $0 = true } }

    func response() -> Response {
        let admitted = listeners.withLockedValue { n in
            guard n < Self.limit else { return false }
            n += 1
            return true
        }
        guard admitted else { return DashboardAPI.error(.tooManyRequests, "too many dashboard pages open (at most \(Self.limit))") }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: .init { [self] writer in
            defer { listeners.withLockedValue { $0 -= 1 } }
            var last: [String: Int] = [:]
            var quiet = 0
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            // A page that went away is noticed at the next write: a comment goes out every 5 s.
            while !stopped.withLockedValue({ $0 }) && !Task.isCancelled {
                let now = await latest.fingerprints(runtime)
                let changed = now.keys.filter { last[$0] != now[$0] }.sorted()
                last = now
                if !changed.isEmpty {
                    let topics = changed.map { "\"\($0)\"" }.joined(separator: ",")
                    try await writer.write(ByteBuffer(string: "event: change\ndata: {\"topics\":[\(topics)]}\n\n"))
                    quiet = 0
                } else {
                    quiet += 1
                    if quiet >= 10 {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        quiet = 0
                    }
                }
                try await Task.sleep(for: Self.interval)
            }
            try await writer.finish(nil)
        })
    }

}

/// The latest fingerprints, computed at most once per ``ChangeFeed/interval`` for all pages.
private actor Latest {
    private var value: [String: Int] = [:]
    private var at: ContinuousClock.Instant?

    func fingerprints(_ runtime: NodeRuntime) async -> [String: Int] {
        let now = ContinuousClock.now
        if let at, now - at < ChangeFeed.interval * 0.8 { return value }
        value = await Self.compute(runtime)
        at = ContinuousClock.now
        return value
    }

    /// A hash of what each page shows.
    private static func compute(_ runtime: NodeRuntime) async -> [String: Int] {
        func hash(_ commands: [ControlCommand]) async -> Int {
            var h = Hasher()
            for c in commands { h.combine(await runtime.answer(c)) }
            return h.finalize()
        }
        return [
            "home": await runtime.homeFingerprint(),
            "people": await hash([.people, .peers]),
            "requests": await hash([.requests, .suggestions]),
            "conversations": await hash([.conversations]),
            "identity": await hash([.identity]),
        ]
    }
}
