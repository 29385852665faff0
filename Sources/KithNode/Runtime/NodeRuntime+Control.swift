import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithDHT
import KithNet
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    // MARK: - Redialling

    /// Where `peer` may be dialled: addresses a handshake proved, what it told this node as a
    /// friend, and what a mutual friend passed on in an introduction.
    func endpoints(of peer: Identity) -> [(String, Int)] {
        var out: [String] = (try? context.store.endpoints(of: peer)) ?? []
        out += (try? context.store.advertisedAddresses(of: peer))?.endpoints ?? []
        out += neighbourhood.introductions.learned.endpoints(of: peer, now: clock.now())
        var seen = Set<String>()
        return out.compactMap { text in
            guard seen.insert(text).inserted, let e = Endpoint(text), e.scheme == "tcp" else { return nil }
            return (e.host, e.port)
        }
    }

    /// A session with `peer`: the open one, or one dialled at a known address; for a friend of
    /// a friend with no address known, one reached through an introduction by a mutual friend.
    func dialAny(_ peer: Identity, introduce: Bool = false) async -> PeerConnection? {
        if let conn = transport.connection(to: peer), conn.isActive { return conn }
        if let conn = await dialKnown(peer) { return conn }
        // A friend of a friend to meet: the mutual friend introduces (addresses with consent).
        if introduce, relationship(with: peer) != .friends, await self.introduce(peer), let conn = await dialKnown(peer) { return conn }
        // Known addresses failed: ask friends and the DHT where the peer is now.
        guard reach.service != nil || !transport.connectedPeers.isEmpty else { return nil }
        return await dialLocated(peer)
    }

    /// Dials `peer` at the addresses friends or the DHT give for it (each checked by the
    /// handshake, which proves the key) and at once through the relays its record or manifest
    /// lists; the first session wins. A direct dial that
    /// succeeds later replaces a relayed session (`Protocol/transport.md`).
    func dialLocated(_ peer: Identity, force: Bool = false) async -> PeerConnection? {
        let located = await locate(peer, force: force)
        let direct = located.endpoints.compactMap { Endpoint($0) }.filter { $0.scheme == "tcp" }
        let relays = (reach.relayHints[peer] ?? []) + manifestRelayHints(of: peer)
        guard !direct.isEmpty || !relays.isEmpty else { return nil }
        let (results, sink) = AsyncStream.makeStream(of: (PeerConnection, Endpoint?)?.self)
        let transport = self.transport
        var paths = 0
        if !direct.isEmpty {
            paths += 1
            Task {
                for endpoint in direct {
                    if let conn = try? await transport.dial(host: endpoint.host, port: endpoint.port, expected: peer) {
                        sink.yield((conn, endpoint))
                        return
                    }
                }
                sink.yield(nil)
            }
        }
        if !relays.isEmpty {
            paths += 1
            // A node that lists relays is behind a NAT: its addresses rarely answer a dial
            // alone, so both paths start at once (the punch then makes the session direct).
            let headStart = direct.isEmpty || !relays.isEmpty ? 0 : 300
            Task { [weak self] in
                try? await Task.sleep(for: .milliseconds(headStart))
                if let conn = transport.connection(to: peer), conn.isActive {
                    sink.yield((conn, nil))
                } else {
                    sink.yield(await self?.dialViaRelays(peer, relays).map { ($0, nil) })
                }
            }
        }
        var ended = 0
        for await result in results {
            if let (conn, endpoint) = result {
                sink.finish()
                if let endpoint { try? context.store.addPeer(peer, endpoint: endpoint.description, at: clock.now()) }
                logger.info("found a peer by key", metadata: ["peer": "\(peer.did)", "via": "\(located.source)", "at": "\(conn)"])
                return conn
            }
            ended += 1
            if ended == paths { break }
        }
        return nil
    }

    /// A session with `peer` at an address this node already knows, if one answers.
    func dialKnown(_ peer: Identity) async -> PeerConnection? {
        let proven = Set((try? context.store.endpoints(of: peer)) ?? [])
        for (host, port) in endpoints(of: peer) {
            guard let conn = try? await transport.dial(host: host, port: port, expected: peer) else { continue }
            let endpoint = Endpoint(scheme: "tcp", host: host, port: port).description
            // Kept only now that a handshake at this address proved the key.
            if !proven.contains(endpoint) { try? context.store.addPeer(peer, endpoint: endpoint, at: clock.now()) }
            return conn
        }
        return nil
    }

    func redialDue() async {
        let records: [StoredConnection]
        do { records = try context.store.connections(involving: identity) } catch {
            return logger.error("cannot read friendships to redial", metadata: ["error": "\(error)"])
        }
        // Friends and this node's own open requests (never someone who only asked this node:
        // strangers choose nothing this node dials); peers of unfinished conversations too.
        let talking = conversations.engine.unfinishedPeers
        let connected = Set(transport.connectedPeers)
        let rels = relationships(records)
        // The transport keeps room for friends and closes idle strangers: tell it who is who.
        transport.setFriends(Set(rels.filter { $0.value == .friends }.keys))
        let wanted = Set(rels.filter { $0.value == .friends || $0.value == .requested }.keys).union(talking).subtracting(connected)
        neighbourhood.reach.redialer.keep(only: wanted)
        for peer in neighbourhood.reach.redialer.due(wanted, now: clock.now()) {
            Task { [weak self] in _ = await self?.dialAny(peer) }
        }
    }


    // MARK: - Control commands

    /// `kith status`.
    public func status() -> StatusReport {
        let records = (try? context.store.connections(involving: identity)) ?? []
        let rels = Array(relationships(records).values)
        let c = transport.counters
        return StatusReport(
            id: identity.did, name: context.model.name, network: context.record.network,
            listen: Endpoint(scheme: "tcp", host: options.advertisedHost ?? published.listen.host, port: published.listen.port).description,
            udp: published.udp.map { Endpoint(scheme: "udp", host: options.advertisedHost ?? $0.host, port: $0.port).description },
            manifestSeq: manifest.manifest.seq, connected: transport.connectedPeers.count,
            friends: rels.filter { $0 == .friends }.count, pendingRequests: rels.filter { $0 == .pending }.count,
            knownManifests: max(0, ((try? context.store.manifestCount()) ?? 1) - 1),
            uptimeSeconds: Int((clock.now() - neighbourhood.reach.startedAt) / 1000),
            tcp: ["accepted": c.accepted, "dialled": c.dialled, "established": c.established, "failures": c.failures,
                  "handshake_timeouts": c.handshakeTimeouts, "idle_timeouts": c.idleTimeouts,
                  "refused_at_capacity": c.refusedAtCapacity, "refused_handshakes": c.refusedHandshakes, "refused_per_address": c.refusedPerAddress, "handshakes_evicted": c.handshakesEvicted, "retries": c.retries, "cookies_accepted": c.cookiesAccepted,
                  "strangers_closed": c.strangersClosed,
                  "duplicates_closed": c.duplicatesClosed, "closed_for_flooding": c.closedForFlooding, "open": transport.openConnections,
                  "circuits_joined": c.circuitsJoined, "circuits_refused": c.circuitsRefused, "circuits_unanswered": c.circuitsUnanswered],
            udpCounters: udp.map { $0.counters.merging(["discovered": neighbourhood.lan.seen.count]) { a, _ in a } } ?? [:],
            gossip: gossipCounters(), conversations: conversations.engine.counters.byName,
            requests: ["refused_at_capacity": friends.requestsRefusedAtCapacity], acknowledged: acknowledged(), dht: dhtReport(),
            reach: reachabilityReport())
    }

    func gossipCounters() -> [String: Int] {
        let c = gossip.counters
        return ["manifests_accepted": c.manifestsAccepted, "records_accepted": c.recordsAccepted, "duplicates": c.duplicates,
                "stale": c.stale, "rejected": c.rejected, "out_of_scope": c.outOfScope, "equivocations": c.equivocations,
                "rate_limited": c.rateLimited, "malformed": c.malformedMessages, "over_capacity": c.overCapacity,
                "disclosure_guard_blocked": conversations.followers.guardBlocked]
    }

    /// For each unfinished conversation: the highest seq the peer is known to hold (it
    /// acknowledged it, or wrote it).
    public func acknowledged() -> [String: UInt64] {
        Dictionary(uniqueKeysWithValues: conversations.engine.acknowledged.map { (Hex.encode($0.key), $0.value) })
    }

    /// `kith invite`: with the DHT on, `did:key:…?dht=KEY` (the key reads this node's `friends`
    /// record); `withAddress` (or without the DHT) appends `@host:port`.
    public func invite(withAddress: Bool = false) throws -> String {
        var text = identity.did
        if reach.service != nil, context.model.policy.dht == .friends, var key = readKeyBytes() {
            text += "?dht=" + ZBase32.encode(key)
            SecretBytes.zero(&key)
        }
        guard withAddress || reach.service == nil || context.model.policy.dht == .off else { return text }
        guard let host = options.advertisedHost else {
            // Behind a NAT friends observed: the public address they see.
            if let seen = nat.observedEndpoint, nat.reachability == .public || nat.reachability == .behindNAT { return "\(text)@\(seen)" }
            throw NodeError("the node listens on a wildcard address and no two friends have seen it at one public address yet "
                            + "(`kith status`, reach): restart with --advertise HOST, or share the invite without an address (the DHT finds it)")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(text)@\(hostPart):\(published.listen.port)"
    }

    /// `kith peers`: friends and open requests, with connection state and addresses.
    public func peers() -> [PeerReport] {
        let records = (try? context.store.connections(involving: identity)) ?? []
        let others = Set(records.map { $0.record.other(than: identity) }).union(neighbourhood.lan.seen.keys)
        let connected = Set(transport.connectedPeers)
        let rels = relationships(records)
        return others.sorted().map { peer in
            let rel = rels[peer] ?? .none
            var addresses = endpoints(of: peer).map { Endpoint(scheme: "tcp", host: $0.0, port: $0.1).description }
            let conn = transport.connection(to: peer)
            if let conn, !conn.isRelayed, !addresses.contains("tcp://\(conn.remoteAddress)") {
                addresses.append("seen from \(conn.remoteAddress)")
            }
            if let seen = neighbourhood.lan.endpoint(of: peer), !addresses.contains(seen) { addresses.append(seen) }
            return PeerReport(id: peer.did, name: name(of: peer), relationship: rel == .none ? "discovered" : rel.rawValue,
                              connected: connected.contains(peer), lastSeen: connected.contains(peer) ? clock.now() : neighbourhood.reach.lastSeen[peer],
                              addresses: addresses, session: conn.map { $0.isRelayed ? "relayed via \($0.relayedVia ?? "?")" : "direct" })
        }
    }

    func name(of peer: Identity) -> String? {
        (try? context.store.manifest(of: peer))?.manifest.name
    }
}
