import Foundation
import KithCrypto
import KithDHT
public import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging
import NIOCore

/// The Mainline DHT side of the node (`Protocol/dht.md`): publishing this node's record (by
/// `policy.dht`), and finding a peer by key alone — connected friends first (`where-is`), then
/// the DHT (the peer's `friends` record when this node holds its record key, then its `public` one).
extension NodeRuntime {
    /// Binds the DHT socket and starts joining, publishing and republishing.
    func startDHT() async throws {
        guard let settings = options.dht else { return }
        var configuration = DHTNode.Configuration()
        configuration.readOnly = settings.readOnly
        // A DHT confined to loopback is one machine: the one-node-per-IP rules would leave room
        // for a single node.
        configuration.restrictAddresses = !(settings.host.hasPrefix("127.") || settings.host == "::1" || settings.host == "localhost")
        let service = DHTService(configuration: configuration, group: io.group, logger: logger)
        do {
            do {
                reach.bound = try await service.bind(host: settings.host, port: settings.port)
            } catch where settings.portIsDefault && settings.port != 0 {
                reach.bound = try await service.bind(host: settings.host, port: 0)
            }
        } catch {
            throw NodeError("cannot bind the DHT socket on \(settings.host):\(settings.port): \(error); pick another --dht-listen or run with --no-dht")
        }
        reach.service = service
        try loadRecordKey()
        let names = settings.bootstrap
        io.tasks.append(Task { [weak self] in
            let addresses = await Self.resolveBootstrap(names)
            await self?.setBootstrap(addresses)
            while !Task.isCancelled {
                await self?.maintainDHT()
                try? await Task.sleep(for: .seconds(settings.maintenanceInterval))
            }
        })
    }

    private func setBootstrap(_ addresses: [DHTAddress]) {
        reach.bootstrap = addresses
        if addresses.isEmpty, !(options.dht?.bootstrap.isEmpty ?? true) {
            logger.warning("no DHT bootstrap address resolved; the node waits for others to contact it")
        }
    }

    /// The node's record key: kept in the store (0600), made on first use.
    func loadRecordKey() throws {
        if var stored = try context.store.dhtRecordKey(of: identity), stored.count == FriendsRecord.keyLength {
            reach.recordKey = SecretBytes(consuming: &stored)
        } else {
            try rotateRecordKey()
        }
    }

    /// A new record key: friends get it on their sessions; the old one (and invites carrying it)
    /// reads nothing new.
    func rotateRecordKey() throws {
        let key = SecretBytes.random(count: FriendsRecord.keyLength)
        var copy = key.withUnsafeBytes { Array($0) }
        defer { SecretBytes.zero(&copy) }
        try context.store.setDHTRecordKey(copy, of: identity, at: clock.now())
        reach.recordKey = key
        reach.publishedFingerprint = nil
    }

    /// The read key of this node's record as bytes (it reads but cannot publish), for a friend's
    /// session or an invite.
    func readKeyBytes() -> [UInt8]? {
        guard let key = reach.recordKey else { return nil }
        return try? FriendsRecord.readKey(recordKey: key).bytes()
    }

    /// Joins again when the routing table is empty; publishes when the record changed or is due.
    func maintainDHT() async {
        guard let service = reach.service else { return }
        if service.routingTableSize == 0, !reach.bootstrap.isEmpty {
            let found = await service.bootstrap(reach.bootstrap)
            logger.info("joined the DHT", metadata: ["nodes": "\(found.count)", "table": "\(service.routingTableSize)"])
        }
        if options.dht?.autoReadOnly == true, !service.isReadOnly, service.portIsRewritten {
            service.setReadOnly(true)
            logger.notice("DHT nodes see this node behind a NAT that rewrites its port: staying read-only (BEP 43) so none waits on it",
                          metadata: ["seen at": "\(service.observedAddress.map { "\($0)" } ?? "?")"])
        }
        let mode = context.model.policy.dht
        let fingerprint = "\(mode.rawValue) \(published.endpoints.joined(separator: " ")) \(published.relays.joined(separator: " "))"
        // Due hourly, and again as soon as nodes are known when the last one reached nobody.
        let due = reach.lastPublish.map {
            clock.now() &- $0.at >= UInt64((options.dht?.republishInterval ?? 3600) * 1000) || ($0.asked == 0 && service.routingTableSize > 0)
        } ?? true
        guard fingerprint != reach.publishedFingerprint || due else { return }
        await publishRecord(mode: mode, fingerprint: fingerprint)
    }

    /// Puts this node's record in the DHT, by `mode`.
    func publishRecord(mode: IdentityModel.DHTPolicy, fingerprint: String) async {
        guard let service = reach.service else { return }
        var endpoints = Self.nodeEndpoints(published.endpoints)
        endpoints.relays = Array(published.relays.prefix(NodeEndpoints.maxRelays))
        let micros = Int64(clock.now()) * 1000
        var items: [MutableItem] = []
        do {
            switch mode {
            case .public:
                items.append(try PublicRecord.item(endpoints: endpoints, keyPair: context.keys.signing, microseconds: micros))
            case .friends:
                guard let key = reach.recordKey else { return }
                items.append(try FriendsRecord.item(endpoints: endpoints, identity: context.keys.signing, recordKey: key, microseconds: micros))
            case .off:
                break
            }
            // Leaving `public`: the public record is overwritten by an empty one (it would
            // otherwise stay readable until it expires, two hours later).
            if mode != .public && reach.publishedPublic {
                items.append(try PublicRecord.item(endpoints: NodeEndpoints(), keyPair: context.keys.signing, microseconds: micros))
            }
        } catch {
            return logger.error("cannot make the DHT record", metadata: ["error": "\(error)"])
        }
        reach.publishedFingerprint = fingerprint
        guard !items.isEmpty else { return }
        if endpoints.tcp.isEmpty {
            logger.notice("publishing a DHT record without addresses (the node listens on a wildcard address; pass --advertise HOST)")
        }
        for item in items {
            let result = await service.put(item)
            let isPublic = item.key == context.keys.signing.publicKey.bytes
            if isPublic { reach.publishedPublic = mode == .public }
            reach.lastPublish = DHTReport.Publish(at: clock.now(), mode: isPublic ? "public" : "friends", seq: item.seq,
                                                  bytes: item.value.encoded().count, stored: result.confirmed, asked: result.asked)
            logger.info("published the DHT record", metadata: ["mode": "\(isPublic ? "public" : "friends")", "stored": "\(result.confirmed)/\(result.asked)"])
        }
    }

    static func nodeEndpoints(_ endpoints: [String]) -> NodeEndpoints {
        var out = NodeEndpoints()
        for text in endpoints {
            guard let endpoint = Endpoint(text) else { continue }
            let host = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
            if endpoint.scheme == "tcp" { out.tcp.append("\(host):\(endpoint.port)") }
            if endpoint.scheme == "udp" { out.udp.append("\(host):\(endpoint.port)") }
        }
        return out
    }

    /// Bootstrap names (`HOST:PORT`) resolved to IPv4 addresses, off the actor.
    static func resolveBootstrap(_ names: [String]) async -> [DHTAddress] {
        await Task.detached {
            var out: [DHTAddress] = []
            for name in names {
                guard let colon = name.lastIndex(of: ":"), let port = Int(name[name.index(after: colon)...]) else { continue }
                let host = String(name[..<colon])
                if let address = DHTAddress(host: host, port: port) { out.append(address); continue }
                guard let resolved = try? SocketAddress.makeAddressResolvingHost(host, port: port),
                      let address = DHTAddress(socketAddress: resolved), address.isIPv4
                else { continue }
                out.append(address)
            }
            return out
        }.value
    }

    // MARK: - Finding a peer by key

    /// Endpoints for `peer` from connected friends, then the DHT; at most one lookup per peer
    /// every 20 s (unless `force`). Returns `tcp://` endpoints.
    func locate(_ peer: Identity, force: Bool = false) async -> (endpoints: [String], source: String) {
        let now = clock.now()
        if !force, let last = reach.lastLookup[peer], now &- last < DHTReach.resolveInterval { return ([], "none") }
        reach.lastLookup[peer] = now
        if reach.lastLookup.count > 4_096 { reach.lastLookup = reach.lastLookup.filter { now &- $0.value < DHTReach.resolveInterval } }
        let started = Date()
        var result: (endpoints: [String], source: String) = ([], "none")
        let fromFriends = await askFriends(where: peer)
        if !fromFriends.isEmpty {
            result = (fromFriends, "friends")
        } else if let report = await lookUp(peer) {
            if let record = report.friendsRecord, !record.tcp.isEmpty || !record.relays.isEmpty {
                result = (record.tcp.map { "tcp://\($0)" }, "dht-friends")
                reach.relayHints[peer] = record.relays
            } else if let record = report.publicRecord, !record.tcp.isEmpty || !record.relays.isEmpty {
                result = (record.tcp.map { "tcp://\($0)" }, "dht-public")
                reach.relayHints[peer] = record.relays
            }
            if reach.relayHints.count > 4_096 { reach.relayHints = [peer: reach.relayHints[peer] ?? []] }
        }
        reach.lastResolve = DHTReport.Resolve(at: clock.now(), id: peer.did, source: result.source, endpoints: result.endpoints,
                                              milliseconds: Int(Date().timeIntervalSince(started) * 1000))
        return result
    }

    /// Asks every connected friend (but `peer`) where `peer` listens; the first answer within 2 s.
    func askFriends(where peer: Identity) async -> [String] {
        let connected = transport.connectedPeers.filter { $0 != peer && relationship(with: $0) == .friends }
        guard !connected.isEmpty else { return [] }
        // One question per peer at a time: a second caller waits for the same answers.
        let mine = reach.asked[peer] == nil
        if mine {
            reach.asked[peer] = (Set(connected), [])
            for friend in connected { try? await transport.connection(to: friend)?.send(.whereIs(peer: peer)) }
        }
        for _ in 0..<20 {
            guard let question = reach.asked[peer] else { break }
            // The first answer with addresses, or every friend asked said it does not know.
            if !question.answer.isEmpty || question.friends.isEmpty { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let answer = reach.asked[peer]?.answer ?? []
        if mine { reach.asked[peer] = nil }
        return answer
    }

    /// A friend asks where `peer` listens: answered with what `peer` told this node, when the
    /// asker may know it (it is `peer`'s friend by records this node holds, or `peer` shares
    /// its addresses with friends of friends); otherwise an empty answer.
    func answerWhereIs(_ peer: Identity, from asker: Identity) async {
        guard relationship(with: asker) == .friends, let conn = transport.connection(to: asker) else { return }
        var endpoints: [String] = []
        if peer != asker, relationship(with: peer) == .friends, let advertised = try? context.store.advertisedAddresses(of: peer) {
            let records = (try? context.store.connections(involving: peer)) ?? []
            let pair = records.filter { $0.record.joins(peer, asker) }
            let mutual = Relationship.from(mine: pair.first { $0.record.by == peer }?.record,
                                           theirs: pair.first { $0.record.by == asker }?.record) == .friends
            if mutual || advertised.sharedWithFriendsOfFriends { endpoints = Array(advertised.endpoints.prefix(PeerMessage.maxEndpoints)) }
        }
        try? await conn.send(.isAt(peer: peer, endpoints: endpoints))
    }

    /// A friend's answer: kept only from a friend asked, for a question this node is waiting on,
    /// and only the first (a later answer cannot replace it).
    func heardIsAt(_ peer: Identity, endpoints: [String], from friend: Identity) {
        guard var question = reach.asked[peer], question.friends.contains(friend), question.answer.isEmpty,
              relationship(with: friend) == .friends
        else { return }
        question.friends.remove(friend)
        question.answer = endpoints.filter { Endpoint($0)?.scheme == "tcp" }
        reach.asked[peer] = question
    }

    /// A friend's read key: kept while the friendship lasts.
    func heardDHTKey(_ key: [UInt8], from friend: Identity) {
        guard relationship(with: friend) == .friends else { return }
        do { try context.store.setDHTRecordKey(key, of: friend, at: clock.now()) } catch {
            logger.error("cannot keep a friend's DHT record key", metadata: ["error": "\(error)"])
        }
    }

    /// Reads `peer`'s records in the DHT: its `friends` record (with the read key this node
    /// holds for it, or `inviteKey`) and its `public` one.
    func lookUp(_ peer: Identity, inviteKey: [UInt8]? = nil) async -> ResolveReport? {
        guard let service = reach.service else { return nil }
        var report = ResolveReport(id: peer.did, answered: 0, message: "")
        // This node's own record reads with the read key of its own record key.
        let ownKey = peer == identity ? readKeyBytes() : nil
        if var bytes = inviteKey ?? ownKey ?? ((try? context.store.dhtRecordKey(of: peer)) ?? nil),
           let readKey = FriendsRecord.ReadKey(bytes: &bytes) {
            let found = await service.get(key: readKey.publishingKey)
            report.answered += found.answered
            if let item = found.item, let endpoints = try? FriendsRecord.endpoints(from: item, readKey: readKey, identity: peer.publicKey) {
                report.friendsRecord = .init(seq: item.seq, tcp: endpoints.tcp, udp: endpoints.udp, relays: endpoints.relays)
            }
        }
        let found = await service.get(key: peer.publicKey.bytes)
        report.answered += found.answered
        if let item = found.item, let endpoints = try? PublicRecord.endpoints(from: item) {
            report.publicRecord = .init(seq: item.seq, tcp: endpoints.tcp, udp: endpoints.udp, relays: endpoints.relays)
        }
        return report
    }

    /// `kith resolve DID`: what the DHT says about `peer`.
    public func resolve(_ peer: Identity, inviteKey: [UInt8]? = nil) async -> ResolveReport {
        guard reach.service != nil else {
            return ResolveReport(id: peer.did, answered: 0, message: "the DHT is off on this node (it runs with --no-dht)")
        }
        let started = Date()
        guard var report = await lookUp(peer, inviteKey: inviteKey) else {
            return ResolveReport(id: peer.did, answered: 0, message: "the DHT is off on this node")
        }
        let ms = Int(Date().timeIntervalSince(started) * 1000)
        let source = report.friendsRecord != nil ? "dht-friends" : report.publicRecord != nil ? "dht-public" : "none"
        reach.lastResolve = DHTReport.Resolve(at: clock.now(), id: peer.did, source: source,
                                              endpoints: (report.friendsRecord?.tcp ?? report.publicRecord?.tcp ?? []).map { "tcp://\($0)" },
                                              milliseconds: ms)
        if report.friendsRecord != nil || report.publicRecord != nil {
            report.message = report.answered == 0 ? "found in this node's own store in \(ms) ms (no other DHT node answered)" : "found in \(ms) ms"
        } else if report.answered == 0 {
            report.message = "no DHT node answered: the node has not joined the DHT yet (see `kith status`)"
        } else {
            report.message = "no record found for \(peer.did) (\(report.answered) nodes answered): they may publish only to friends; ask them for `kith invite`"
        }
        return report
    }

    /// The DHT part of `kith status`.
    func dhtReport() -> DHTReport {
        guard let service = reach.service else {
            return DHTReport(mode: "disabled", routingTable: 0, storedForOthers: 0, readOnly: false, traffic: [:])
        }
        let stats = service.statistics
        return DHTReport(mode: context.model.policy.dht.rawValue, listen: reach.bound.map { "\($0.host):\($0.port)" },
                         routingTable: service.routingTableSize, storedForOthers: service.storedItemCount,
                         readOnly: service.isReadOnly, lastPublish: reach.lastPublish, lastResolve: reach.lastResolve,
                         traffic: ["datagrams_in": stats.datagramsIn, "datagrams_out": stats.datagramsOut, "bytes_in": stats.bytesIn,
                                   "bytes_out": stats.bytesOut, "queries_answered": stats.queriesAnswered, "malformed": stats.malformed,
                                   "rate_limited": stats.rateLimited])
    }
}

extension NodeRuntime {
    /// After an unfriending: a new record key (the removed friend holds the old one), made at
    /// once so an invite made from now on carries it. Returns the old key for
    /// ``publishAfterRecordKeyChange(emptying:)``.
    func changeRecordKeyAfterUnfriending() -> SecretBytes? {
        guard reach.service != nil else { return nil }
        let old = reach.recordKey
        do { try rotateRecordKey() } catch {
            logger.error("cannot change the DHT record key", metadata: ["error": "\(error)"])
            return nil
        }
        return old
    }

    /// The record under the old key is overwritten by an empty one (the removed friend, and any
    /// invite with the old key, reads no address from it even before it expires); the new key
    /// goes to the friends connected now (others get it on their next session) and the record
    /// is published under it.
    func publishAfterRecordKeyChange(emptying old: SecretBytes) async {
        guard let service = reach.service else { return }
        if let empty = try? FriendsRecord.item(endpoints: NodeEndpoints(), identity: context.keys.signing, recordKey: old,
                                               microseconds: Int64(clock.now()) * 1000) {
            let result = await service.put(empty)
            logger.info("emptied the DHT record under the old key", metadata: ["stored": "\(result.confirmed)/\(result.asked)"])
        }
        guard let key = readKeyBytes() else { return }
        for peer in transport.connectedPeers where relationship(with: peer) == .friends {
            try? await transport.connection(to: peer)?.send(.dhtKey(key: key))
        }
        Task { [weak self] in await self?.maintainDHT() }
    }
}
