/// Kademlia k-buckets (BEP 5) around one node id, flattened: bucket *i* holds nodes whose id
/// shares exactly *i* leading bits with ours — the same tree BEP 5 grows by splitting the bucket
/// that holds our own id.
///
/// A full bucket takes a newcomer only in place of a node that failed twice or has not been
/// heard from for 15 minutes. A node enters only once it answered a query of ours (a UDP source
/// address proves nothing). One entry per IP address (an address cannot fill a bucket with
/// made-up ids), as libtorrent restricts routing IPs.
public struct RoutingTable: Sendable {
    /// Nodes per bucket.
    public static let k = 8
    /// A node silent this long (ms) may be replaced.
    public static let staleAfter: UInt64 = 15 * 60_000

    public struct Entry: Sendable {
        public var contact: Contact
        public var lastSeen: UInt64
        public var failures: Int
    }

    public let own: NodeID
    private var buckets: [[Entry]] = Array(repeating: [], count: NodeID.length * 8 + 1)
    /// Who holds each IP address (each IP and port when addresses are not restricted).
    private var addresses: [DHTAddress: NodeID] = [:]
    /// One entry per IP, and per bucket one per /24 (/64), as libtorrent's
    /// `restrict_routing_ips`; off only for a DHT confined to loopback, where every node is one machine.
    public let restrictAddresses: Bool

    /// The key of the one entry an address may have: its IP, or its IP and port when unrestricted.
    func slot(_ address: DHTAddress) -> DHTAddress {
        restrictAddresses ? DHTAddress(ip: address.ip, port: 0)! : address
    }

    public init(own: NodeID, restrictAddresses: Bool = true) {
        self.own = own
        self.restrictAddresses = restrictAddresses
    }

    /// Number of nodes held.
    public var count: Int { addresses.count }

    /// Every node held.
    public var contacts: [Contact] { buckets.flatMap { $0.map(\.contact) } }

    /// Records that `contact` answered us (or queried us, not read-only) at `now`.
    public mutating func heard(from contact: Contact, now: UInt64) {
        guard contact.id != own else { return }
        let key = slot(contact.address)
        if let known = addresses[key], known != contact.id {
            // The address belongs to another id: the newcomer takes it only if that one failed.
            guard entry(known).map({ $0.failures >= 2 }) ?? true else { return }
            remove(known)
        }
        let index = own.commonPrefixLength(with: contact.id)
        if let position = buckets[index].firstIndex(where: { $0.contact.id == contact.id }) {
            if buckets[index][position].contact.address != contact.address { return } // id moved: keep the first
            buckets[index][position].lastSeen = now
            buckets[index][position].failures = 0
            return
        }
        if restrictAddresses, buckets[index].contains(where: { $0.contact.address.network == contact.address.network }) { return }
        let entry = Entry(contact: contact, lastSeen: now, failures: 0)
        if buckets[index].count < Self.k {
            buckets[index].append(entry)
        } else if let stale = buckets[index].indices.first(where: {
            buckets[index][$0].failures >= 2 || now &- buckets[index][$0].lastSeen > Self.staleAfter
        }) {
            addresses[slot(buckets[index][stale].contact.address)] = nil
            buckets[index][stale] = entry
        } else {
            return
        }
        addresses[key] = contact.id
    }

    /// Whether `contact` (this id at this address) is in the table.
    public func contains(_ contact: Contact) -> Bool { addresses[slot(contact.address)] == contact.id }

    /// Whether ``heard(from:now:)`` would keep `contact` now (used before spending a ping on it).
    public func wouldAccept(_ contact: Contact, now: UInt64) -> Bool {
        guard contact.id != own, addresses[slot(contact.address)] == nil else { return false }
        let index = own.commonPrefixLength(with: contact.id)
        if buckets[index].contains(where: { $0.contact.id == contact.id }) { return false }
        if restrictAddresses, buckets[index].contains(where: { $0.contact.address.network == contact.address.network }) { return false }
        return buckets[index].count < Self.k
            || buckets[index].contains { $0.failures >= 2 || now &- $0.lastSeen > Self.staleAfter }
    }

    private func entry(_ id: NodeID) -> Entry? {
        buckets[own.commonPrefixLength(with: id)].first { $0.contact.id == id }
    }

    /// Records that a query to `id` timed out; a node failing twice may be replaced, five times
    /// is removed.
    public mutating func failed(_ id: NodeID) {
        let index = own.commonPrefixLength(with: id)
        guard let position = buckets[index].firstIndex(where: { $0.contact.id == id }) else { return }
        buckets[index][position].failures += 1
        if buckets[index][position].failures >= 5 { remove(id) }
    }

    /// Removes `id`.
    public mutating func remove(_ id: NodeID) {
        let index = own.commonPrefixLength(with: id)
        guard let position = buckets[index].firstIndex(where: { $0.contact.id == id }) else { return }
        addresses[slot(buckets[index][position].contact.address)] = nil
        buckets[index].remove(at: position)
    }

    /// The `count` nodes closest to `target` (nodes with failures last), IPv4 or IPv6 only.
    public func closest(to target: NodeID, count: Int = k, ipv6: Bool = false) -> [Contact] {
        let candidates = buckets.joined().filter { $0.contact.address.isIPv4 != ipv6 && $0.failures < 2 }
        return candidates.map(\.contact).sorted { $0.id.closer(to: target, than: $1.id) }.prefix(count).map { $0 }
    }

    /// Index of buckets that have not been refreshed (no node heard) for `interval` ms, for a
    /// refresh lookup of a random id in their range.
    public func staleBuckets(now: UInt64, interval: UInt64) -> [Int] {
        buckets.indices.filter { index in
            !buckets[index].isEmpty && buckets[index].allSatisfy { now &- $0.lastSeen > interval }
        }
    }
}
