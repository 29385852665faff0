/// Token buckets per key: `ratePerSecond` sustained, `burst` at once. Keys idle for a minute are
/// forgotten once more than 4,096 are tracked (swept at most once a second, so a flood of new
/// keys cannot make every call scan the table); with 16,384 live keys a new key is refused (the
/// table never starts over, which would hand every known key a fresh burst).
public struct RateLimiter<Key: Hashable & Sendable>: Sendable {
    let ratePerSecond: Double
    let burst: Double
    private var buckets: [Key: (tokens: Double, at: UInt64)] = [:]
    private var lastSweep: UInt64 = 0

    /// Most keys tracked at once.
    static var capacity: Int { 16_384 }

    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    /// Whether `key` has a bucket (a refused key without one was refused for lack of room).
    public func tracks(_ key: Key) -> Bool { buckets[key] != nil }

    /// Takes one token for `key` at `now` (ms); false when the bucket is empty.
    public mutating func take(_ key: Key, now: UInt64) -> Bool {
        if buckets.count > 4096 && now &- lastSweep >= 1_000 {
            lastSweep = now
            buckets = buckets.filter { now &- $0.value.at < 60_000 }
        }
        if buckets[key] == nil && buckets.count >= Self.capacity { return false }
        var bucket = buckets[key] ?? (tokens: burst, at: now)
        bucket.tokens = min(burst, bucket.tokens + Double(now &- bucket.at) / 1000 * ratePerSecond)
        bucket.at = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        return allowed
    }
}
