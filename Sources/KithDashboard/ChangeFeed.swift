import Foundation
import HTTPTypes
import Hummingbird
import KithNode
import NIOConcurrencyHelpers

/// Server-sent events that keep the page live: every half second the feed looks at what each
/// page shows and sends `event: change` with the topics that changed (`home`, `people`,
/// `requests`, `conversations`, `identity`); the page re-reads those. A comment every 15 s
/// keeps idle connections open.
final class ChangeFeed: Sendable {
    let runtime: NodeRuntime
    /// Most pages listening at once.
    static let limit = 16
    static let interval: Duration = .milliseconds(500)
    private let listeners = NIOLockedValueBox(0)
    private let stopped = NIOLockedValueBox(false)

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
            while !stopped.withLockedValue({ $0 }) && !Task.isCancelled {
                let now = await fingerprints()
                let changed = now.keys.filter { last[$0] != now[$0] }.sorted()
                last = now
                if !changed.isEmpty {
                    let topics = changed.map { "\"\($0)\"" }.joined(separator: ",")
                    try await writer.write(ByteBuffer(string: "event: change\ndata: {\"topics\":[\(topics)]}\n\n"))
                    quiet = 0
                } else {
                    quiet += 1
                    if quiet >= 30 {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        quiet = 0
                    }
                }
                try await Task.sleep(for: Self.interval)
            }
            try await writer.finish(nil)
        })
    }

    /// A hash of what each page shows.
    private func fingerprints() async -> [String: Int] {
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
