public import KithModel

/// The receiving side of UDP as a pure state machine: drops oversize, over-rate, malformed,
/// forged, wrong-network, stale, replayed and self-sent datagrams, counting each reason.
public struct DatagramFilter: Sendable {
    /// Accepted clock skew either way, ms.
    public static let window: UInt64 = 120_000

    private let network: NetworkID
    private let me: Identity
    private let nonceCapacity: Int
    private var seen: [[UInt8]: UInt64] = [:]      // from ‖ nonce → expiry (ms)
    private var seenOrder: [[UInt8]] = []
    private var seenHead = 0
    private var rate: RateLimiter<String>

    /// Datagrams accepted.
    public private(set) var accepted = 0
    /// Datagrams dropped, by ``DatagramError/counterName``.
    public private(set) var dropped: [String: Int] = [:]

    /// Creates a filter for `network`, ignoring datagrams from `me`.
    /// - Parameters:
    ///   - ratePerSecond: sustained datagrams per source address.
    ///   - burst: bucket size per source address.
    ///   - nonceCapacity: most remembered nonces; when all are still within the window, new
    ///     datagrams are refused (`overloaded`) rather than any nonce forgotten.
    public init(network: NetworkID, me: Identity, ratePerSecond: Double = 20, burst: Double = 40, nonceCapacity: Int = 65_536) {
        self.network = network
        self.me = me
        rate = RateLimiter(ratePerSecond: ratePerSecond, burst: burst)
        self.nonceCapacity = nonceCapacity
    }

    /// Checks one packet from `source` (an address string) at `now` (ms).
    public mutating func accept(_ packet: [UInt8], from source: String, now: UInt64) -> Result<Datagram, DatagramError> {
        let result = check(packet, from: source, now: now)
        switch result {
        case .success: accepted += 1
        case .failure(let error): dropped[error.counterName, default: 0] += 1
        }
        return result
    }

    private mutating func check(_ packet: [UInt8], from source: String, now: UInt64) -> Result<Datagram, DatagramError> {
        guard packet.count <= Datagram.maxPacket else { return .failure(.oversize) }
        // Rate first: it costs nothing, and protects the signature check from floods.
        guard rate.take(source, now: now) else { return .failure(.rateLimited) }
        let datagram: Datagram
        do { datagram = try Datagram.decode(packet) } catch { return .failure(error) }
        guard datagram.from != me else { return .failure(.fromSelf) }
        guard datagram.net == network else { return .failure(.wrongNetwork) }
        let skew = datagram.ts > now ? datagram.ts - now : now - datagram.ts
        guard skew <= Self.window else { return .failure(.stale) }
        let key = datagram.from.bytes + datagram.nonce
        if let expiry = seen[key], expiry > now { return .failure(.replayed) }
        forgetExpired(now: now)
        // Full of nonces that could still be replayed: refuse the newcomer, forget nothing.
        guard seen.count < nonceCapacity else { return .failure(.overloaded) }
        seen[key] = datagram.ts + Self.window
        seenOrder.append(key)
        return .success(datagram)
    }

    /// Forgets nonces whose datagrams are past the window (they are refused as stale anyway).
    private mutating func forgetExpired(now: UInt64) {
        while seenHead < seenOrder.count {
            let oldest = seenOrder[seenHead]
            if let expiry = seen[oldest], expiry > now { break }
            seen[oldest] = nil
            seenHead += 1
        }
        if seenHead > 1024 && seenHead * 2 > seenOrder.count {
            seenOrder.removeFirst(seenHead)
            seenHead = 0
        }
    }
}
