import Foundation
import KithModel
import KithNet
import KithProtocol
import Logging

/// NAT traversal (`Protocol/transport.md`, observed addresses, relays, hole punching): friends
/// tell this node where they see it; a node behind a NAT lists friends that relay for it; a
/// session that had to go through a relay tries to become direct by a hole punch the two ends
/// time over the relayed session.
extension NodeRuntime {
    /// A relayed session this node dialled starts a hole punch.
    func greetForNAT(_ conn: PeerConnection) async {
        if conn.isRelayed, conn.weDialled { await startPunch(conn) }
    }

    /// What a friend hears on a direct session (when it opens, or when the friendship begins):
    /// where its connection comes from, and an offer to relay (`policy.relay`). Only friends'
    /// observations count, so only friends are told (a stranger learns nothing).
    func tellFriendForNAT(_ conn: PeerConnection) async {
        guard !conn.isRelayed else { return }
        if let (host, port) = Endpoint.splitHostPort(conn.remoteAddress) {
            try? await conn.send(.observed(address: Endpoint(scheme: "tcp", host: host, port: port).description))
        }
        if offersRelay { try? await conn.send(.relayOffer) }
    }

    /// Whether this node offers its friends to relay: its policy allows it, and friends see it
    /// at its own address (a node behind a NAT could not be reached to relay anything).
    var offersRelay: Bool { context.model.policy.relay == .friends && nat.reachability == .public }

    /// A session ended: its relay offer and punch state go with it.
    func forgetForNAT(_ peer: Identity) {
        guard transport.connection(to: peer) == nil else { return }
        nat.punchesStarted[peer] = nil
        nat.punchEndpoints[peer] = nil
        if nat.relayOffers.remove(peer) != nil { refreshReach() }
    }

    /// A friend says where it sees this node (only friends' words count, only on direct sessions).
    func heardObserved(_ address: String, on conn: PeerConnection) {
        guard !conn.isRelayed, relationship(with: conn.peer) == .friends, let seen = Endpoint(address),
              let (localHost, localPort) = Endpoint.splitHostPort(conn.localAddress), let (remoteHost, _) = Endpoint.splitHostPort(conn.remoteAddress)
        else { return }
        nat.observations.record(.init(observerHost: remoteHost, seenHost: seen.host, seenPort: seen.port, localHost: localHost,
                                      localPort: localPort, at: clock.now()), by: conn.peer)
        refreshReach()
    }

    /// A friend offers to relay for this node.
    func heardRelayOffer(on conn: PeerConnection) {
        guard !conn.isRelayed, relationship(with: conn.peer) == .friends else { return }
        nat.relayOffers.insert(conn.peer)
        refreshReach()
    }

    /// Recomputes reachability, the endpoints this node publishes and its relays; tells
    /// connected friends when the endpoints changed.
    func refreshReach() {
        let classified = nat.observations.classify(listenPort: published.listen.port)
        let (reachability, endpoint) = (classified.reachability, classified.endpoint)
        let before = nat.reachability
        nat.reachability = reachability
        nat.observedEndpoint = endpoint
        nat.candidateEndpoint = classified.candidate
        if reachability != before {
            logger.notice("reachability", metadata: ["now": "\(reachability.rawValue)", "seen at": "\(endpoint ?? "?")"])
            if reachability == .public, offersRelay {
                // Public now: friends may list this node as their relay.
                for friend in transport.connectedPeers where relationship(with: friend) == .friends {
                    guard let conn = transport.connection(to: friend), !conn.isRelayed else { continue }
                    Task { try? await conn.send(.relayOffer) }
                }
            }
            // Friends see this node behind a NAT: its DHT node stays read-only (BEP 43), so no
            // lookup waits on a node others cannot reach unasked.
            if reachability == .behindNAT || reachability == .symmetricNAT, options.dht?.autoReadOnly == true,
               let service = reach.service, !service.isReadOnly {
                service.setReadOnly(true)
                logger.notice("friends see this node behind a NAT: its DHT node stays read-only (BEP 43)")
            }
        }
        var endpoints = published.configured
        // Published: a public address, or a NAT's one mapping that a majority of at least two
        // friends agree on (never what a single friend says).
        if let endpoint, let e = Endpoint("tcp://" + endpoint), !endpoints.contains(e.description) {
            endpoints.insert(e.description, at: 0)
        }
        let relays = reachability == .public ? [] : relayList()
        let changed = endpoints != published.endpoints
        published.endpoints = endpoints
        published.relays = relays
        let relayIDs = relays.compactMap { try? Identity(did: String($0.prefix { $0 != "@" })) }
        nat.manifestRelays = relayIDs == manifest.manifest.relays ? nil : relayIDs
        guard changed else { return }
        let share = context.model.policy.addresses
        for friend in transport.connectedPeers where relationship(with: friend) == .friends {
            guard let conn = transport.connection(to: friend) else { continue }
            Task { try? await conn.send(.addresses(endpoints: endpoints, share: share)) }
        }
    }

    /// Re-signs the manifest when the relays it should list changed (at most once a minute):
    /// friends of friends learn which mutual friends reach this node behind its NAT.
    func tickNAT() async {
        guard let relays = nat.manifestRelays else { return }
        if let last = nat.manifestSignedAt, ContinuousClock.now - last < .seconds(60) { return }
        nat.manifestRelays = nil
        nat.manifestSignedAt = .now
        do {
            published.manifest = try context.currentManifest(now: clock.now(), relays: relays)
        } catch {
            return logger.error("cannot re-sign the manifest with its relays", metadata: ["error": "\(error)"])
        }
        conversations.engine.use(manifest: manifest.object)
        friends.engine.manifest = manifest.object
        await perform(gossip.publish(manifest.object, now: clock.now()))
        sendHeads()
        logger.notice("manifest re-signed with its relays", metadata: ["seq": "\(manifest.manifest.seq)", "relays": "\(relays.count)"])
    }

    /// Friends that offered to relay and this node reaches directly, as `did:key:…@HOST:PORT`.
    private func relayList() -> [String] {
        nat.relayOffers.sorted { $0.did < $1.did }.compactMap { friend -> String? in
            guard let conn = transport.connection(to: friend), !conn.isRelayed,
                  let (host, port) = listeningAddress(of: friend) ?? Endpoint.splitHostPort(conn.remoteAddress) else { return nil }
            return "\(friend.did)@\(AddressObservations.hostPort(host, port))"
        }.prefix(2).map { $0 }
    }

    /// Where `friend` listens: the address of the direct session this node dialled, else the
    /// first address known for it.
    private func listeningAddress(of friend: Identity) -> (String, Int)? {
        if let conn = transport.connection(to: friend), !conn.isRelayed, conn.weDialled { return Endpoint.splitHostPort(conn.remoteAddress) }
        return endpoints(of: friend).first
    }

    /// A relay this node is a friend of asks it to join circuit `circuit`.
    func heardRelayCall(_ circuit: [UInt8], on conn: PeerConnection) {
        let via = conn.peer
        let open = (nat.joinedVia[via] ?? []).filter(\.isActive)
        nat.joinedVia[via] = open.isEmpty ? nil : open
        guard !conn.isRelayed, relationship(with: via) == .friends, nat.joining < NATReach.maxJoining,
              open.count + nat.joiningVia[via, default: 0] < NATReach.maxPerRelay,
              let (relayHost, relayPort) = listeningAddress(of: via) ?? Endpoint.splitHostPort(conn.remoteAddress)
        else { return }
        nat.joining += 1
        nat.joiningVia[via, default: 0] += 1
        let transport = self.transport, logger = self.logger
        Task { [weak self] in
            var session: PeerConnection?
            do {
                let joined = try await transport.join(circuit: circuit, relayHost: relayHost, relayPort: relayPort)
                logger.info("joined a relayed session", metadata: ["peer": "\(joined)", "relay": "\(via.did)"])
                session = joined
            } catch {
                logger.info("could not join a relay circuit", metadata: ["relay": "\(via.did)", "error": "\(error)"])
            }
            await self?.joined(session, via: via)
        }
    }

    private func joined(_ session: PeerConnection?, via relay: Identity) {
        nat.joining -= 1
        nat.joiningVia[relay, default: 1] -= 1
        if nat.joiningVia[relay] == 0 { nat.joiningVia[relay] = nil }
        if let session, session.isRelayed { nat.joinedVia[relay, default: []].append(session) }
    }

    // MARK: - Hole punching over a relayed session

    /// Where this node can be punched to: the public address friends observe (unless the NAT
    /// maps per peer) and its configured addresses.
    private func punchOffer() -> [String] {
        var out: [String] = []
        if nat.reachability != .symmetricNAT, let endpoint = nat.observedEndpoint ?? nat.candidateEndpoint,
           let e = Endpoint("tcp://" + endpoint) { out.append(e.description) }
        for text in published.configured where Endpoint(text)?.scheme == "tcp" && !out.contains(text) { out.append(text) }
        return Array(out.prefix(4))
    }

    /// This node dialled through a relay: it offers its addresses and times the round trip.
    func startPunch(_ conn: PeerConnection) async {
        nat.punchesStarted[conn.peer] = .now
        try? await conn.send(.punch(endpoints: punchOffer()))
    }

    /// A `punch` on a relayed session: the answer to ours (then: sync, wait half the round
    /// trip, dial), or the peer's opening (then: answer with ours and wait for its sync).
    func heardPunch(_ endpoints: [String], on conn: PeerConnection) async {
        guard conn.isRelayed, transport.connection(to: conn.peer) == conn else { return }
        var seen = Set<String>()
        let theirs = Array(endpoints.filter { Endpoint($0)?.scheme == "tcp" && seen.insert($0).inserted }.prefix(4))
        if let started = nat.punchesStarted.removeValue(forKey: conn.peer) {
            let roundTrip = ContinuousClock.now - started
            try? await conn.send(.punchSync)
            guard !theirs.isEmpty else { return }
            let peer = conn.peer
            Task { [weak self] in
                try? await Task.sleep(for: roundTrip / 2)
                await self?.punchDial(peer, theirs)
            }
        } else if !conn.weDialled, takePunchToken(for: conn.peer), nat.punchAnswered.insert(conn.id).inserted {
            if nat.punchAnswered.count > 1_024 { nat.punchAnswered = [conn.id] }
            nat.punchEndpoints[conn.peer] = theirs
            try? await conn.send(.punch(endpoints: punchOffer()))
        }
    }

    /// The punch initiator's go: dial its addresses now (it dials ours at the same moment).
    func heardPunchSync(on conn: PeerConnection) {
        guard conn.isRelayed, !conn.weDialled, let theirs = nat.punchEndpoints.removeValue(forKey: conn.peer), !theirs.isEmpty else { return }
        let peer = conn.peer
        Task { [weak self] in await self?.punchDial(peer, theirs) }
    }

    /// Dials `peer` at `endpoints` from the listening port, a few times with random pauses (a
    /// router without a firewall answers with a reset until the other side's dial made its
    /// mapping, and two sides retrying in step would keep colliding). Done when a direct
    /// session with `peer` exists, however it came.
    func punchDial(_ peer: Identity, _ endpoints: [String]) async {
        let started = ContinuousClock.now
        // At most 6 rounds, for up to 3 s. A dial that cannot leave from the listening port because this
        // node's own earlier dial to that address is still waiting (same four addresses) is no
        // loss: that dial's socket is the one the peer's SYN reaches.
        var burst = true
        for _ in 0..<6 where ContinuousClock.now - started < .seconds(3) {
            for text in endpoints {
                if let conn = transport.connection(to: peer), conn.isActive, !conn.isRelayed { return punchDone(peer, conn, started) }
                guard let e = Endpoint(text) else { continue }
                do {
                    let conn = try await transport.punch(host: e.host, port: e.port, expected: peer, timeout: .milliseconds(1_500))
                    if !conn.isRelayed { return punchDone(peer, conn, started) }
                } catch let error as TransportError where error.isRefused && burst && takeBurst() {
                    burst = false
                    // A reset: the other NAT has no firewall and no mapping for this node yet. Its
                    // own dial opens one only for as long as its SYN is on the way, so dial in a
                    // quick burst until one crosses it (once per punch, bounded; resets cost
                    // nothing to wait for).
                    if let conn = await punchBurst(peer, e) { return punchDone(peer, conn, started) }
                } catch {
                    logger.debug("punch dial failed", metadata: ["peer": "\(peer.did)", "at": "\(e)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .milliseconds(Int.random(in: 40...240)))
        }
        if let conn = transport.connection(to: peer), conn.isActive, !conn.isRelayed { return punchDone(peer, conn, started) }
        nat.punchFailed += 1
        logger.info("hole punch failed; the session stays relayed", metadata: ["peer": "\(peer.did)"])
    }

    /// A punch to answer: always for a friend; for anyone else, within the node's budget.
    private func takePunchToken(for peer: Identity) -> Bool {
        guard relationship(with: peer) != .friends else { return true }
        let now = ContinuousClock.now
        let elapsed = Double((now - nat.strangerPunches.at).components.seconds)
        nat.strangerPunches = (min(8, nat.strangerPunches.tokens + elapsed / 5), now)
        guard nat.strangerPunches.tokens >= 1 else {
            logger.info("punch not answered: too many from strangers lately", metadata: ["peer": "\(peer.did)"])
            return false
        }
        nat.strangerPunches.tokens -= 1
        return true
    }

    /// One burst of dials a minute, whoever asks.
    private func takeBurst() -> Bool {
        if let last = nat.lastBurst, ContinuousClock.now - last < .seconds(60) { return false }
        nat.lastBurst = .now
        return true
    }

    /// Up to ``NATReach/burst`` dials to `endpoint` back to back while it answers with resets.
    private func punchBurst(_ peer: Identity, _ endpoint: Endpoint) async -> PeerConnection? {
        for _ in 0..<NATReach.burst {
            if let conn = transport.connection(to: peer), conn.isActive, !conn.isRelayed { return conn }
            do {
                let conn = try await transport.punch(host: endpoint.host, port: endpoint.port, expected: peer, timeout: .milliseconds(1_500))
                if !conn.isRelayed { return conn }
            } catch let error as TransportError where error.isRefused {
                continue
            } catch {
                return nil
            }
        }
        return nil
    }

    private func punchDone(_ peer: Identity, _ conn: PeerConnection, _ started: ContinuousClock.Instant) {
        nat.punched += 1
        logger.info("hole punch: the session is direct now", metadata: ["peer": "\(conn)", "after": "\(ContinuousClock.now - started)"])
    }

    // MARK: - Reaching a peer through its relays

    /// A session with `peer` through one of the relays its record lists (`did:key:…@HOST:PORT`).
    func dialViaRelays(_ peer: Identity, _ relays: [String]) async -> PeerConnection? {
        for hint in relays {
            guard let at = hint.firstIndex(of: "@"), let (host, port) = Endpoint.splitHostPort(String(hint[hint.index(after: at)...])) else { continue }
            do {
                let conn = try await transport.dial(viaRelay: host, port: port, to: peer)
                logger.info("reached a peer through a relay", metadata: ["peer": "\(peer.did)", "relay": "\(hint)"])
                return conn
            } catch {
                logger.info("relay failed", metadata: ["peer": "\(peer.did)", "relay": "\(hint)", "error": "\(error)"])
            }
        }
        return nil
    }

    /// Relays `peer`'s manifest lists that this node knows where to reach (its own friends,
    /// typically the mutual friends), as `did:key:…@HOST:PORT`.
    func manifestRelayHints(of peer: Identity) -> [String] {
        guard let relays = (try? context.store.manifest(of: peer))?.manifest.relays else { return [] }
        return relays.prefix(Manifest.Limits.relays).compactMap { relay -> String? in
            listeningAddress(of: relay).map { "\(relay.did)@\(AddressObservations.hostPort($0.0, $0.1))" }
        }
    }

    /// `kith status`'s reachability part.
    func reachabilityReport() -> ReachabilityReport {
        ReachabilityReport(reachability: nat.reachability.rawValue, observed: nat.observedEndpoint,
                           observers: nat.observations.byObserver.count, relays: published.relays, relaying: transport.isRelaying,
                           circuits: transport.openCircuits, punched: nat.punched, punchFailed: nat.punchFailed,
                           relayedSessions: transport.connectedPeers.filter { transport.connection(to: $0)?.isRelayed == true }.count)
    }
}
