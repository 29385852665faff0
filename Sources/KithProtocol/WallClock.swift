import Foundation

/// The node's one source of wall-clock time, in Kith's unit (milliseconds since the Unix
/// epoch). The node injects one into every driver (transport, UDP, engines' events), so tests
/// can run a node in another time.
public struct WallClock: Sendable {
    private let read: @Sendable () -> UInt64

    /// A clock that reads `read`.
    public init(_ read: @escaping @Sendable () -> UInt64) { self.read = read }

    /// The system's clock.
    public static let system = WallClock { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    /// The system's clock shifted by `millis` (negative: the past).
    public static func offset(by millis: Int64) -> WallClock {
        WallClock { UInt64(max(0, Int64(WallClock.system.now()) + millis)) }
    }

    /// The current time, ms since the epoch.
    public func now() -> UInt64 { read() }
}
