/// Token buckets per key: `ratePerSecond` sustained, `burst` at once. Keys idle for a minute are
/// forgotten once more than 4,096 are tracked, so the table stays bounded.
struct RateLimiter<Key: Hashable & Sendable>: Sendable {
    let ratePerSecond: Double
    let burst: Double
    private var buckets: [Key: (tokens: Double, at: UInt64)] = [:]

    init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    /// Takes one token for `key` at `now` (ms); false when the bucket is empty.
    mutating func take(_ key: Key, now: UInt64) -> Bool {
        if buckets.count > 4096 {
            buckets = buckets.filter { now &- $0.value.at < 60_000 }
        }
        var bucket = buckets[key] ?? (tokens: burst, at: now)
        bucket.tokens = min(burst, bucket.tokens + Double(now &- bucket.at) / 1000 * ratePerSecond)
        bucket.at = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[key] = bucket
        return allowed
    }
}
