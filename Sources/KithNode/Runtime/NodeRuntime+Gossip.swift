import Foundation
import KithCBOR
public import KithModel
import KithNet
import KithPersona
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    /// Loads every stored manifest and record into the gossip engine.
    func loadGossipState() throws(NodeError) {
        do {
            // Records first (they define the scope), then only the manifests in scope: a store
            // holding strangers' manifests (from their requests) cannot fill the gossip caps.
            for stored in try context.store.allConnections() {
                gossip.load(record: stored.object, stored.record)
            }
            for stored in try context.store.allManifests() where stored.manifest.id == identity || gossip.hops(to: stored.manifest.id) != nil {
                gossip.load(manifest: stored.object, stored.manifest, equivocating: stored.equivocating)
            }
        } catch {
            throw NodeError("cannot read the stored manifests and friendships: \(error)")
        }
    }

    /// Starts replicating with a connected friend (once per session).
    func startGossip(with peer: Identity) async {
        guard !gossip.isConnected(peer) else { return }
        await perform(gossip.peerConnected(peer))
    }

    /// Carries out what the gossip engine asked for.
    func perform(_ actions: [GossipAction]) async {
        let now = clock.now()
        for action in actions {
            switch action {
            case .send(let to, let message):
                guard let conn = transport.connection(to: to) else { continue }
                do { try await conn.send(.gossip(message)) } catch {
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
            case .ownManifestBehind(let seq):
                await signAbove(seq)
            case .storeRecord(let object, let record):
                // Records of this node's own pairs come through the friend workflow; from gossip
                // only the other side's revocation is taken (it ended the friendship).
                let mine = record.a == identity || record.b == identity
                if mine && (record.by == identity || record.kind != .revocation) { continue }
                do { try context.store.storeConnection(object, record: record, receivedAt: now) } catch {
                    logger.error("cannot store a connection record", metadata: ["error": "\(error)"])
                    continue
                }
                if mine { try? context.store.forgetAdvertisedAddresses(of: record.by) }
                if mine, let pair = try? pairRecords(with: record.by) {
                    await perform(friends.engine.peerRevoked(record.by, pair: pair), about: record.by)
                }
            }
        }
    }

    /// A friend holds a manifest of this node's own with seq `held` (this node was restored from
    /// an old backup): sign a new one above it, and let everyone have it.
    func signAbove(_ held: UInt64) async {
        guard held >= manifest.manifest.seq else { return }
        do { published.manifest = try context.currentManifest(now: clock.now(), heldElsewhere: held) } catch {
            return logger.error("cannot re-sign the manifest above the one a friend holds", metadata: ["error": "\(error)"])
        }
        conversations.engine.use(manifest: manifest.object)
        friends.engine.manifest = manifest.object
        logger.notice("a friend held a newer manifest of this node's own (restored from a backup?): re-signed above it",
                      metadata: ["held": "\(held)", "seq": "\(manifest.manifest.seq)"])
        await perform(gossip.publish(manifest.object, now: clock.now()))
        sendHeads()
    }

    /// Once a second: updates whose designated push parent stayed silent are offered.
    func tickGossip() async {
        await perform(gossip.tick(now: clock.now()))
    }

    /// How many friendships away `peer` is (1 for a friend), from the records this node holds;
    /// nil beyond the gossip scope.
    public func hops(to peer: Identity) -> Int? { gossip.hops(to: peer) }

    /// Sends a digest to one random connected friend.
    func antiEntropy() async {
        await perform(gossip.antiEntropy(pick: { Int.random(in: 0..<$0) }))
    }

    /// `kith reload`: re-reads identity.yaml and re-signs the manifest (seq + 1) when its public
    /// projection changed, then pushes it to friends and announces it over UDP.
    public func reload() async throws -> ReloadReport {
        let model = try context.home.loadModel()
        let sharingBefore = context.model.policy.addresses
        context = NodeContext(home: context.home, keys: context.keys, model: model, store: context.store, record: context.record)
        Task.detached(priority: .utility) { TurnIndexes.prepare(model) }
        let before = manifest.manifest.seq
        published.manifest = try context.currentManifest(now: clock.now())
        conversations.engine.policy = model.policy
        friends.engine.policy = model.policy.connect
        conversations.engine.use(manifest: manifest.object)
        friends.engine.manifest = manifest.object
        let changed = manifest.manifest.seq != before
        if model.policy.addresses != sharingBefore {
            // Friends hear at once whether they may pass this node's addresses on.
            for peer in transport.connectedPeers where relationship(with: peer) == .friends {
                try? await transport.connection(to: peer)?.send(.addresses(endpoints: published.endpoints, share: model.policy.addresses))
            }
        }
        if changed {
            await perform(gossip.publish(manifest.object, now: clock.now()))
            sendHeads()
            logger.notice("manifest re-signed", metadata: ["seq": "\(manifest.manifest.seq)"])
        }
        return ReloadReport(seq: manifest.manifest.seq, changed: changed)
    }
}

extension NodeRuntime {
    /// A friend of a friend arrived by gossip: if the interests overlap enough, the AI opens a
    /// conversation (`policy.meet: auto`) or suggests one (`ask`), never twice within the cool-down.
    func considerMeeting(_ m: Manifest) {
        let now = clock.now()
        guard m.id != identity else { return }
        let facts = MeetingPlanner.Facts(
            hops: gossip.hops(to: m.id), isStranger: (try? storedRelationship(with: m.id)) == Relationship.none,
            equivocating: gossip.equivocating.contains(m.id),
            recentConversations: try? context.store.conversationCount(with: m.id, since: now - MeetingPlanner.cooldown),
            conversationsToday: try? context.store.conversationCount(since: now - 86_400_000))
        switch neighbourhood.meetings.consider(m, model: context.model, facts: facts, now: now) {
        case .none:
            break
        case .suggest(let shared):
            logger.notice("suggesting a meeting", metadata: ["with": "\(m.name)", "shared": "\(shared.joined(separator: ", "))"])
        case .meet(let topic, let shared):
            logger.notice("meeting a friend of a friend", metadata: ["with": "\(m.name)", "shared": "\(shared.joined(separator: ", "))"])
            let peer = m.id
            Task { [weak self] in
                guard let self else { return }
                for await _ in await self.talk(to: peer, host: nil, port: nil, topic: topic, turns: nil) {}
            }
        }
    }

    /// `kith suggestions`: people the AI would like its person to meet.
    public func currentSuggestions() -> [Suggestion] {
        neighbourhood.meetings.suggestions.values.filter { (try? Identity(did: $0.id)).map { relationship(with: $0) == .none } ?? false }.sorted { $0.at < $1.at }
    }
}

/// The result of `kith reload`.
public struct ReloadReport: Sendable, Codable {
    /// The manifest's seq now.
    public var seq: UInt64
    /// Whether a new manifest was signed.
    public var changed: Bool
}
