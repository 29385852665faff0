import Foundation

/// Wall-clock time in Kith's unit: milliseconds since the Unix epoch.
public enum Clock {
    /// The current time.
    public static func nowMillis() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}
