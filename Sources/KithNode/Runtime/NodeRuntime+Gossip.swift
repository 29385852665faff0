import Foundation
import KithCBOR
public import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    /// Loads every stored manifest and record into the gossip engine.
    func loadGossipState() {
        for stored in (try? context.store.allManifests()) ?? [] {
            gossip.load(manifest: stored.object, stored.manifest, equivocating: stored.equivocating)
        }
        for stored in (try? context.store.allConnections()) ?? [] {
            gossip.load(record: stored.object, stored.record)
        }
    }

    /// Starts replicating with a connected friend (once per session).
    func startGossip(with peer: Identity) async {
        guard !gossipPeers.contains(peer) else { return }
        gossipPeers.insert(peer)
        await perform(gossip.peerConnected(peer))
    }

    /// Carries out what the gossip engine asked for.
    func perform(_ actions: [GossipAction]) async {
        let now = Clock.nowMillis()
        for action in actions {
            switch action {
            case .send(let to, let type, let fields):
                guard let conn = transport.connection(to: to) else { continue }
                do { try await conn.send(type: type, fields: fields) } catch {
                    logger.debug("gossip message not sent", metadata: ["peer": "\(conn)", "error": "\(error)"])
                }
            case .storeManifest(let object, let manifest):
                guard manifest.id != identity else { continue }
                do { _ = try context.store.storeManifest(object, manifest: manifest, receivedAt: now) } catch {
                    logger.error("cannot store a manifest", metadata: ["error": "\(error)"])
                }
                considerMeeting(manifest)
            case .equivocation(let id):
                logger.warning("identity signed two different manifests with one seq", metadata: ["id": "\(id.did)"])
                try? context.store.flagEquivocation(id)
            case .storeRecord(let object, let record):
                do { try context.store.storeConnection(object, record: record, receivedAt: now) } catch {
                    logger.error("cannot store a connection record", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Sends a digest to one random connected friend.
    func antiEntropy() async {
        await perform(gossip.antiEntropy(pick: { Int.random(in: 0..<$0) }))
    }

    /// `kith reload`: re-reads identity.yaml and re-signs the manifest (seq + 1) when its public
    /// projection changed, then pushes it to friends and announces it over UDP.
    public func reload() async throws -> ReloadReport {
        let model = try context.home.loadModel()
        context = NodeContext(home: context.home, keys: context.keys, model: model, store: context.store, record: context.record)
        let before = manifest.manifest.seq
        manifest = try context.currentManifest(endpoints: endpoints)
        let changed = manifest.manifest.seq != before
        if changed {
            transport.updateManifest(manifest.object)
            await perform(gossip.publish(manifest.object, now: Clock.nowMillis()))
            sendHeads()
            logger.notice("manifest re-signed", metadata: ["seq": "\(manifest.manifest.seq)"])
        }
        return ReloadReport(seq: manifest.manifest.seq, changed: changed)
    }

    /// `kith unfriend DID`: signs a revocation, which gossip carries to everyone who knew of the
    /// friendship, and stops replicating with that peer.
    public func unfriend(_ peer: Identity) async -> ConnectOutcome {
        let peerName = name(of: peer)
        guard relationship(with: peer) != .none else {
            return ConnectOutcome(outcome: "failed", id: peer.did, name: peerName, message: "you have no friendship or request with \(peer.did)")
        }
        let revocation = ConnectionRecord(signer: identity, other: peer, ts: Clock.nowMillis(), kind: .revocation)
            .signed(with: context.keys.signing)
        await store(revocation)
        gossipPeers.remove(peer)
        gossip.peerDisconnected(peer)
        return ConnectOutcome(outcome: "unfriended", id: peer.did, name: peerName, message: "friendship revoked; your friends' nodes will learn it")
    }
}

/// A friend of a friend this node's AI would like to meet.
public struct Suggestion: Sendable, Codable {
    /// Their did.
    public var id: String
    /// Their name.
    public var name: String
    /// Interests both share.
    public var shared: [String]
    /// When it was suggested, ms.
    public var at: UInt64
}

extension NodeRuntime {
    /// How long before the AI considers the same person again: 7 days.
    static let meetCooldown: UInt64 = 7 * 86_400_000

    /// A friend of a friend arrived by gossip: if the interests overlap enough, the AI opens a
    /// conversation (`policy.meet: auto`) or suggests one (`ask`), never twice within the cool-down.
    func considerMeeting(_ m: Manifest) {
        let now = Clock.nowMillis()
        let policy = context.model.policy
        guard policy.meet != .never, m.id != identity, gossip.hops(to: m.id) == 2, relationship(with: m.id) == .none,
              !gossip.equivocating.contains(m.id), now < m.exp else { return }
        let mine = Set(context.model.interests.map { $0.lowercased() })
        let shared = m.interests.filter { mine.contains($0.lowercased()) }
        guard shared.count >= 2 || (!mine.isEmpty && Double(shared.count) / Double(min(mine.count, max(1, m.interests.count))) >= 0.5) else { return }
        if let last = lastMeetConsidered[m.id], now - last < Self.meetCooldown { return }
        if ((try? context.store.conversationCount(with: m.id, since: now - Self.meetCooldown)) ?? 0) > 0 { return }
        lastMeetConsidered[m.id] = now
        switch policy.meet {
        case .ask:
            suggestions[m.id] = Suggestion(id: m.id.did, name: m.name, shared: shared, at: now)
            logger.notice("suggesting a meeting", metadata: ["with": "\(m.name)", "shared": "\(shared.joined(separator: ", "))"])
        case .auto:
            guard ((try? context.store.conversationCount(since: now - 86_400_000)) ?? 0) < policy.dailyConversations else { return }
            logger.notice("meeting a friend of a friend", metadata: ["with": "\(m.name)", "shared": "\(shared.joined(separator: ", "))"])
            let peer = m.id
            let topic = shared.prefix(2).joined(separator: " and ")
            Task { [weak self] in
                guard let self else { return }
                for await _ in await self.talk(to: peer, host: nil, port: nil, topic: topic, turns: nil) {}
            }
        case .never:
            break
        }
    }

    /// `kith suggestions`: people the AI would like its person to meet.
    public func currentSuggestions() -> [Suggestion] {
        suggestions.values.filter { (try? Identity(did: $0.id)).map { relationship(with: $0) == .none } ?? false }.sorted { $0.at < $1.at }
    }
}

/// The result of `kith reload`.
public struct ReloadReport: Sendable, Codable {
    /// The manifest's seq now.
    public var seq: UInt64
    /// Whether a new manifest was signed.
    public var changed: Bool
}
