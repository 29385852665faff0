import KithCrypto
import KithProtocol

/// A Mainline DHT node as a pure state machine (BEP 5 with BEP 43 read-only mode and BEP 44
/// mutable items): datagrams and time in, datagrams to send and finished lookups out. The
/// driver (`KithNet.DHTService`) owns the socket and the clock.
///
/// It answers `ping`, `find_node`, `get_peers`, `announce_peer`, `get` and `put` (mutable items
/// only), keeps k-buckets, and runs iterative lookups (α = 3 queries in flight, among the k = 8
/// closest nodes not yet asked) for nodes, for an item, and for storing an item on the k closest
/// nodes that gave a write token. Everything it holds is bounded.
public struct DHTNode: Sendable {
    /// Tunables; the defaults follow BEP 5 and BEP 44 and libtorrent's practice.
    public struct Configuration: Sendable {
        /// Send queries marked read-only and answer none (BEP 43): for a node others cannot reach.
        public var readOnly = false
        /// A query without an answer after this long (ms) counts as failed.
        public var queryTimeout: UInt64 = 2_000
        /// A lookup ends with what it has after this long (ms).
        public var lookupTimeout: UInt64 = 20_000
        /// Queries in flight per lookup.
        public var alpha = 3
        /// Items stored for others at most; beyond, new targets are refused.
        public var maxItems = 2_000
        /// Info-hashes with announced peers at most.
        public var maxInfoHashes = 2_000
        /// Peers kept per info-hash.
        public var maxPeersPerInfoHash = 64
        /// Stored items and peers expire after this long (ms) without a refresh (BEP 44: 2 h).
        public var storageLifetime: UInt64 = 2 * 60 * 60_000
        /// Queries answered per second per IP address (burst twice that).
        public var queriesPerSecondPerAddress: Double = 25
        /// Queries awaiting an answer at most (new lookups wait their turn beyond).
        public var maxPending = 1_024
        /// One routing entry and one lookup candidate per IP, and few per /24 (libtorrent's
        /// `restrict_routing_ips` and `restrict_search_ips`). Turn off only for a DHT confined to
        /// loopback, where all nodes share one machine.
        public var restrictAddresses = true
        /// Queries per second answered in all for addresses the per-address limiter cannot track
        /// (when spoofed sources fill it), so newcomers are still served.
        public var overflowQueriesPerSecond: Double = 100
        /// Version tag sent in every message (`v`).
        public var version: [UInt8] = Array("KH".utf8) + [0, 1]

        public init() {}
    }

    /// Identifies a lookup started by ``findNode(_:now:)``, ``get(target:salt:now:)`` or
    /// ``put(_:now:)``.
    public struct LookupID: Sendable, Hashable { let value: UInt64 }

    /// What a finished lookup found.
    public enum Outcome: Sendable, Equatable {
        /// The closest nodes that answered.
        case nodes([Contact])
        /// The newest valid item found, and how many nodes answered.
        case item(MutableItem?, answered: Int)
        /// How many of the closest nodes confirmed storing the item, of how many were asked.
        case stored(confirmed: Int, asked: Int)
    }

    /// Something for the driver to do.
    public enum Action: Sendable, Equatable {
        case send([UInt8], to: DHTAddress)
        case finished(LookupID, Outcome)
    }

    /// Counters for status and benchmarks.
    public struct Statistics: Sendable, Equatable {
        public var datagramsIn = 0
        public var datagramsOut = 0
        public var bytesIn = 0
        public var bytesOut = 0
        public var queriesAnswered = 0
        public var malformed = 0
        public var rateLimited = 0
    }

    public let id: NodeID
    public var configuration: Configuration
    public private(set) var table: RoutingTable
    public private(set) var statistics = Statistics()
    /// The address the last answering node saw us at (BEP 42 `ip`).
    public private(set) var observedAddress: DHTAddress?
    /// The UDP port this node's socket is bound to, when the driver said.
    public private(set) var localPort: UInt16?
    /// Observed addresses and the distinct nodes that reported each (bounded).
    private var observations: [DHTAddress: Set<NodeID>] = [:]
    /// Number of items stored for others.
    public var storedItemCount: Int { items.count }

    private var bootstrap: [DHTAddress] = []
    private var pending: [PendingKey: Pending] = [:]
    private var nextTransaction: UInt16 = 0
    private var nextLookup: UInt64 = 0
    private var lookups: [LookupID: Lookup] = [:]
    private var items: [NodeID: (item: MutableItem, storedAt: UInt64)] = [:]
    private var peers: [NodeID: [DHTAddress: UInt64]] = [:]
    private var secrets: (current: [UInt8], previous: [UInt8], rotatedAt: UInt64)
    private var limiter: RateLimiter<[UInt8]>
    private var overflow: RateLimiter<Int>
    /// Who first stored each item and announced each info-hash (the IP), for per-address quotas.
    private var itemSources: [NodeID: [UInt8]] = [:]
    private var peerSources: [NodeID: [UInt8]] = [:]
    private var lastMaintenance: UInt64 = 0

    public init(id: NodeID = .random(), configuration: Configuration = Configuration(), now: UInt64) {
        self.id = id
        self.configuration = configuration
        table = RoutingTable(own: id, restrictAddresses: configuration.restrictAddresses)
        secrets = (Random.bytes(32), Random.bytes(32), now)
        limiter = RateLimiter(ratePerSecond: configuration.queriesPerSecondPerAddress,
                              burst: configuration.queriesPerSecondPerAddress * 2)
        overflow = RateLimiter(ratePerSecond: configuration.overflowQueriesPerSecond, burst: configuration.overflowQueriesPerSecond)
    }

    /// Tells the engine the port its socket is bound to (for ``portIsRewritten``).
    public mutating func setLocalPort(_ port: UInt16) { localPort = port }

    /// Whether at least two nodes saw this node at one address whose port differs from the one it
    /// is bound to: a NAT that rewrites ports sits in front of it, so unsolicited queries are
    /// unlikely to reach it (a reason for BEP 43 read-only mode).
    public var portIsRewritten: Bool {
        guard let localPort else { return false }
        return observations.contains { $0.key.port != localPort && $0.value.count >= 2 }
    }

    // MARK: - Starting lookups

    /// Sets the nodes asked when the routing table has too few of its own.
    public mutating func setBootstrap(_ addresses: [DHTAddress]) { bootstrap = addresses }

    /// Looks up the nodes closest to `target` (with our own id: joins the network).
    public mutating func findNode(_ target: NodeID, now: UInt64) -> (LookupID, [Action]) {
        start(target: target, purpose: .findNode, now: now)
    }

    /// Looks up the newest item stored under `key` and `salt`.
    public mutating func get(key: [UInt8], salt: [UInt8] = [], now: UInt64) -> (LookupID, [Action]) {
        start(target: MutableItem.target(key: key, salt: salt), purpose: .get(key: key, salt: salt), now: now)
    }

    /// Stores `item` on the closest nodes (a get lookup for their write tokens, then puts).
    public mutating func put(_ item: MutableItem, now: UInt64) -> (LookupID, [Action]) {
        start(target: item.target, purpose: .put(item), now: now)
    }

    private mutating func start(target: NodeID, purpose: Lookup.Purpose, now: UInt64) -> (LookupID, [Action]) {
        var lookup = Lookup(target: target, purpose: purpose, restrictAddresses: configuration.restrictAddresses)
        // This node is a storing node like any other: what it holds counts for a get, and what
        // it publishes it also serves.
        switch lookup.purpose {
        case .get(let key, _):
            if let stored = items[lookup.target]?.item, stored.key == key { lookup.best = stored }
        case .put(let item):
            if item.isValid, (items[item.target]?.item.seq ?? -1) < item.seq,
               items[item.target] != nil || items.count < configuration.maxItems {
                items[item.target] = (item, now)
            }
        case .findNode:
            break
        }
        nextLookup += 1
        let lookupID = LookupID(value: nextLookup)
        lookup.deadline = now + configuration.lookupTimeout
        for contact in table.closest(to: lookup.target, count: RoutingTable.k * 2) { lookup.add(contact) }
        if table.count < RoutingTable.k {
            for address in bootstrap { lookup.addBootstrap(address) }
        }
        lookups[lookupID] = lookup
        return (lookupID, advance(lookupID, now: now))
    }

    // MARK: - Input

    /// Handles one datagram from `address`.
    public mutating func receive(_ bytes: [UInt8], from address: DHTAddress, now: UInt64) -> [Action] {
        statistics.datagramsIn += 1
        statistics.bytesIn += bytes.count
        guard address.port != 0 else { return [] }
        let message: KRPCMessage
        do { message = try KRPCMessage.decode(bytes) } catch {
            statistics.malformed += 1
            return []
        }
        switch message.body {
        case .query(let sender, let query):
            return answer(query, from: sender, at: address, message: message, now: now)
        case .response(let response):
            return handleResponse(response, transaction: message.transaction, from: address,
                                  observed: message.observedAddress, now: now)
        case .error(let code, _):
            return handleError(code: code, transaction: message.transaction, from: address, now: now)
        }
    }

    /// Expires queries, lookups, stored items and token secrets; refreshes quiet buckets.
    public mutating func tick(now: UInt64) -> [Action] {
        var actions: [Action] = []
        let expired = pending.filter { now &- $0.value.sentAt >= configuration.queryTimeout }
        for (key, query) in expired {
            pending[key] = nil
            if let expected = query.expected { table.failed(expected) }
            if let lookupID = query.lookup, var lookup = lookups[lookupID] {
                lookup.markFailed(key.address, putPhase: query.isPut)
                lookups[lookupID] = lookup
                actions += advance(lookupID, now: now)
            }
        }
        for (lookupID, lookup) in lookups where now >= lookup.deadline {
            actions += finish(lookupID, lookup, now: now)
        }
        if now &- secrets.rotatedAt >= 5 * 60_000 {
            secrets = (Random.bytes(32), secrets.current, now)
        }
        if now &- lastMaintenance >= 60_000 {
            lastMaintenance = now
            let lifetime = configuration.storageLifetime
            items = items.filter { now &- $0.value.storedAt < lifetime }
            itemSources = itemSources.filter { items[$0.key] != nil }
            peers = peers.compactMapValues { entries in
                let alive = entries.filter { now &- $0.value < lifetime }
                return alive.isEmpty ? nil : alive
            }
            peerSources = peerSources.filter { peers[$0.key] != nil }
            for bucket in table.staleBuckets(now: now, interval: 15 * 60_000).prefix(2) {
                actions += findNode(randomID(inBucket: bucket), now: now).1
            }
        }
        return actions
    }

    // MARK: - Serving queries

    private mutating func answer(_ query: KRPCMessage.Query, from sender: NodeID, at address: DHTAddress,
                                 message: KRPCMessage, now: UInt64) -> [Action] {
        if configuration.readOnly { return [] }
        guard limiter.take(address.ip, now: now) || (!limiter.tracks(address.ip) && overflow.take(0, now: now)) else {
            statistics.rateLimited += 1
            return []
        }
        var actions: [Action] = []
        // A querier enters the table only once it answers a ping of ours: its source address
        // may be spoofed, and this node must not hand a victim's address to others.
        let querier = Contact(id: sender, address: address)
        if !message.readOnly, sender != id, table.wouldAccept(querier, now: now), pending.count < configuration.maxPending,
           !pending.keys.contains(where: { $0.address == address }) {
            actions.append(sendQuery(.ping, to: address, expected: sender, lookup: nil, isPut: false, now: now))
        } else if !message.readOnly, table.contains(querier) {
            table.heard(from: querier, now: now)
        }
        statistics.queriesAnswered += 1
        var response = KRPCMessage.Response(sender: id)
        switch query {
        case .ping:
            break
        case .findNode(let target):
            fillNodes(&response, target: target, for: address)
        case .getPeers(let infoHash):
            fillNodes(&response, target: infoHash, for: address)
            response.token = token(for: address, target: infoHash, secret: secrets.current)
            response.peers = Array((peers[infoHash] ?? [:]).keys.filter { $0.isIPv4 == address.isIPv4 }.prefix(50))
        case .announcePeer(let infoHash, let port, let token, let impliedPort):
            guard validToken(token, for: address, target: infoHash) else { return reply(error: 203, "bad token", message, to: address) }
            let peer = DHTAddress(ip: address.ip, port: impliedPort ? address.port : port)!
            if peers[infoHash] == nil {
                guard peers.count < configuration.maxInfoHashes,
                      hasQuota(peerSources, for: address, limit: configuration.maxInfoHashes)
                else { return reply(error: KRPCMessage.ErrorCode.server, "storage full", message, to: address) }
                peerSources[infoHash] = address.ip
            }
            var entries = peers[infoHash] ?? [:]
            if entries[peer] == nil, entries.count >= configuration.maxPeersPerInfoHash,
               let oldest = entries.min(by: { $0.value < $1.value })?.key {
                entries[oldest] = nil
            }
            entries[peer] = now
            peers[infoHash] = entries
        case .get(let target, let seq):
            fillNodes(&response, target: target, for: address)
            response.token = token(for: address, target: target, secret: secrets.current)
            if let stored = items[target]?.item {
                if let seq, stored.seq <= seq {
                    response.seq = stored.seq
                } else {
                    response.item = (stored.key, stored.seq, stored.signature, stored.value)
                }
            }
        case .put(let item, let token, let cas):
            guard validToken(token, for: address, target: item.target) else { return reply(error: 203, "bad token", message, to: address) }
            guard item.value.encoded().count <= MutableItem.maxValueBytes else {
                return reply(error: KRPCMessage.ErrorCode.valueTooBig, "message (v field) too big", message, to: address)
            }
            guard item.salt.count <= MutableItem.maxSaltBytes else {
                return reply(error: KRPCMessage.ErrorCode.saltTooBig, "salt too big", message, to: address)
            }
            guard item.isValid else {
                return reply(error: KRPCMessage.ErrorCode.invalidSignature, "invalid signature", message, to: address)
            }
            let target = item.target
            if let stored = items[target]?.item {
                if let cas, cas != stored.seq {
                    return reply(error: KRPCMessage.ErrorCode.casMismatch, "CAS mismatch", message, to: address)
                }
                if item.seq < stored.seq || (item.seq == stored.seq && item != stored) {
                    return reply(error: KRPCMessage.ErrorCode.seqTooLow, "sequence number less than current", message, to: address)
                }
            } else {
                guard items.count < configuration.maxItems, hasQuota(itemSources, for: address, limit: configuration.maxItems) else {
                    return reply(error: KRPCMessage.ErrorCode.server, "storage full", message, to: address)
                }
                itemSources[target] = address.ip
            }
            items[target] = (item, now)
        case .unknown:
            return reply(error: KRPCMessage.ErrorCode.methodUnknown, "Method Unknown", message, to: address)
        }
        let out = KRPCMessage(transaction: message.transaction, body: .response(response),
                              observedAddress: address, version: configuration.version)
        return [send(out, to: address)] + actions
    }

    /// Whether `address` may store one more new entry in a store of `limit`: at most a
    /// sixteenth from one IP and a quarter from one /24 (/64), so no address fills it for everyone.
    private func hasQuota(_ sources: [NodeID: [UInt8]], for address: DHTAddress, limit: Int) -> Bool {
        let network = address.network
        var fromIP = 0, fromNetwork = 0
        for source in sources.values {
            if source == address.ip { fromIP += 1 }
            if source.prefix(network.count).elementsEqual(network) { fromNetwork += 1 }
        }
        return fromIP < max(1, limit / 16) && fromNetwork < max(1, limit / 4)
    }

    private func fillNodes(_ response: inout KRPCMessage.Response, target: NodeID, for address: DHTAddress) {
        if address.isIPv4 {
            response.nodes = table.closest(to: target)
        } else {
            response.nodes6 = table.closest(to: target, ipv6: true)
        }
    }

    private mutating func reply(error code: Int64, _ text: String, _ message: KRPCMessage, to address: DHTAddress) -> [Action] {
        [send(KRPCMessage(transaction: message.transaction, body: .error(code: code, message: text),
                          version: configuration.version), to: address)]
    }

    /// A write token: bound to the querier's IP and to the target it may write.
    private func token(for address: DHTAddress, target: NodeID, secret: [UInt8]) -> [UInt8] {
        Array(BLAKE2b.hash(parts: [address.ip, target.bytes], length: 16, key: secret).prefix(8))
    }

    private func validToken(_ candidate: [UInt8], for address: DHTAddress, target: NodeID) -> Bool {
        ConstantTime.equals(candidate, token(for: address, target: target, secret: secrets.current))
            || ConstantTime.equals(candidate, token(for: address, target: target, secret: secrets.previous))
    }

    // MARK: - Answers to our queries

    private mutating func handleResponse(_ response: KRPCMessage.Response, transaction: [UInt8], from address: DHTAddress,
                                         observed: DHTAddress?, now: UInt64) -> [Action] {
        let key = PendingKey(transaction: transaction, address: address)
        guard let query = pending.removeValue(forKey: key) else { return [] }
        if let expected = query.expected, expected != response.sender {
            table.remove(expected)
            guard let lookupID = query.lookup, var lookup = lookups[lookupID] else { return [] }
            lookup.markFailed(address, putPhase: query.isPut)
            lookups[lookupID] = lookup
            return advance(lookupID, now: now)
        }
        if let observed {
            observedAddress = observed
            if observations[observed] != nil || observations.count < 16, (observations[observed]?.count ?? 0) < 8 {
                observations[observed, default: []].insert(response.sender)
            }
        }
        table.heard(from: Contact(id: response.sender, address: address), now: now)
        guard let lookupID = query.lookup, var lookup = lookups[lookupID] else { return [] }
        if query.isPut {
            lookup.putConfirmed(address)
        } else {
            lookup.answered(address, id: response.sender, token: response.token)
            for contact in response.nodes where contact.id != id { lookup.add(contact) }
            if case .get(let key, let salt) = lookup.purpose, let found = response.item, found.key == key {
                let item = MutableItem(key: found.key, salt: salt, seq: found.seq, value: found.value, signature: found.signature)
                // Only an item newer than the best so far costs a signature check.
                if item.seq > (lookup.best?.seq ?? -1), item.isValid { lookup.best = item }
            }
            if case .put(let mine) = lookup.purpose, let found = response.item, found.key == mine.key {
                lookup.highestSeen = max(lookup.highestSeen ?? found.seq, found.seq)
            }
        }
        lookups[lookupID] = lookup
        return advance(lookupID, now: now)
    }

    private mutating func handleError(code: Int64, transaction: [UInt8], from address: DHTAddress, now: UInt64) -> [Action] {
        let key = PendingKey(transaction: transaction, address: address)
        guard let query = pending.removeValue(forKey: key) else { return [] }
        guard let lookupID = query.lookup, var lookup = lookups[lookupID] else { return [] }
        lookup.markFailed(address, putPhase: query.isPut)
        lookups[lookupID] = lookup
        return advance(lookupID, now: now)
    }

    // MARK: - Lookups

    private mutating func advance(_ lookupID: LookupID, now: UInt64) -> [Action] {
        guard var lookup = lookups[lookupID] else { return [] }
        var actions: [Action] = []
        if lookup.storing {
            if lookup.putsInFlight == 0 {
                return finish(lookupID, lookup, now: now)
            }
            return []
        }
        while lookup.inFlight < configuration.alpha, pending.count < configuration.maxPending,
              let next = lookup.nextToAsk() {
            lookup.markAsked(next.address)
            let query: KRPCMessage.Query
            switch lookup.purpose {
            case .findNode: query = .findNode(target: lookup.target)
            case .get, .put: query = .get(target: lookup.target, seq: nil)
            }
            actions.append(sendQuery(query, to: next.address, expected: next.id, lookup: lookupID, isPut: false, now: now))
        }
        lookups[lookupID] = lookup
        if lookup.inFlight == 0 && lookup.nextToAsk() == nil {
            actions += searchDone(lookupID, now: now)
        }
        return actions
    }

    private mutating func searchDone(_ lookupID: LookupID, now: UInt64) -> [Action] {
        guard var lookup = lookups[lookupID] else { return [] }
        guard case .put(let item) = lookup.purpose else { return finish(lookupID, lookup, now: now) }
        var actions: [Action] = []
        lookup.storing = true
        for target in lookup.closestAnswered(RoutingTable.k) {
            guard let token = target.token else { continue }
            lookup.putsAsked += 1
            lookup.putsInFlight += 1
            lookup.putTargets.insert(target.address)
            actions.append(sendQuery(.put(item, token: token, cas: nil), to: target.address, expected: target.id,
                                     lookup: lookupID, isPut: true, now: now))
        }
        lookups[lookupID] = lookup
        if lookup.putsInFlight == 0 { actions += finish(lookupID, lookup, now: now) }
        return actions
    }

    private mutating func finish(_ lookupID: LookupID, _ lookup: Lookup, now: UInt64) -> [Action] {
        lookups[lookupID] = nil
        pending = pending.filter { $0.value.lookup != lookupID }
        let outcome: Outcome
        switch lookup.purpose {
        case .findNode: outcome = .nodes(lookup.closestAnswered(RoutingTable.k).compactMap { $0.contact })
        case .get: outcome = .item(lookup.best, answered: lookup.answeredCount)
        case .put: outcome = .stored(confirmed: lookup.putsConfirmed, asked: lookup.putsAsked)
        }
        return [.finished(lookupID, outcome)]
    }

    private mutating func sendQuery(_ query: KRPCMessage.Query, to address: DHTAddress, expected: NodeID?,
                                    lookup: LookupID?, isPut: Bool, now: UInt64) -> Action {
        var transaction: [UInt8]
        repeat {
            nextTransaction &+= 1
            transaction = [UInt8(nextTransaction >> 8), UInt8(nextTransaction & 0xff)]
        } while pending[PendingKey(transaction: transaction, address: address)] != nil
        pending[PendingKey(transaction: transaction, address: address)] =
            Pending(expected: expected, lookup: lookup, isPut: isPut, sentAt: now)
        let message = KRPCMessage(transaction: transaction, body: .query(sender: id, query),
                                  readOnly: configuration.readOnly, version: configuration.version)
        return send(message, to: address)
    }

    private mutating func send(_ message: KRPCMessage, to address: DHTAddress) -> Action {
        let bytes = message.encoded()
        statistics.datagramsOut += 1
        statistics.bytesOut += bytes.count
        return .send(bytes, to: address)
    }

    private func randomID(inBucket bucket: Int) -> NodeID {
        var bytes = Random.bytes(NodeID.length)
        // Keep the first `bucket` bits of our id, flip the next one.
        for bit in 0...min(bucket, NodeID.length * 8 - 1) {
            let byte = bit / 8, mask = UInt8(0x80) >> UInt8(bit % 8)
            let ours = id.bytes[byte] & mask
            let wanted = bit < bucket ? ours : (ours ^ mask)
            bytes[byte] = (bytes[byte] & ~mask) | wanted
        }
        return NodeID(bytes: bytes)!
    }
}

private struct PendingKey: Hashable, Sendable {
    let transaction: [UInt8]
    let address: DHTAddress
}

private struct Pending: Sendable {
    let expected: NodeID?
    let lookup: DHTNode.LookupID?
    let isPut: Bool
    let sentAt: UInt64
}
