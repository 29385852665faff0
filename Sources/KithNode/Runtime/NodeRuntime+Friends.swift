import Foundation
import KithCBOR
import KithCrypto
public import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    func handleFriendRequest(_ conn: PeerConnection, body: CBOR) async {
        guard let record = verifiedRecord(body, from: conn) else { return }
        let peer = conn.peer
        let policy = context.model.policy.connect
        let alreadyMine = myRecord(with: peer) != nil
        if policy == .never && !alreadyMine {
            logger.notice("declined a friend request (policy.connect: never)", metadata: ["peer": "\(peer.did)"])
            try? await conn.send(type: "friend-decline")
            return
        }
        await store(record)
        if alreadyMine || policy == .auto {
            let mine = await ensureMyRecord(with: peer)
            logger.notice("friends", metadata: ["peer": "\(peer.did)", "why": "\(alreadyMine ? "mutual request" : "policy.connect: auto")"])
            try? await conn.send(type: "friend-accept", fields: ["record": mine.wireValue])
            await startGossip(with: peer)
            resolveWaiters(peer, with: "accepted")
        } else {
            logger.notice("friend request waiting for `kith accept`", metadata: ["peer": "\(peer.did)"])
            try? await conn.send(type: "friend-pending")
        }
    }

    func verifiedRecord(_ body: CBOR, from conn: PeerConnection) -> SignedObject? {
        guard let wire = body["record"] else { return nil }
        do {
            let object = try SignedObject(wireValue: wire)
            let record = try ConnectionRecord.verify(object)
            guard record.by == conn.peer, record.joins(identity, conn.peer) else {
                logger.notice("ignoring a connection record not signed by the peer for this pair", metadata: ["peer": "\(conn)"])
                return nil
            }
            return object
        } catch {
            logger.notice("ignoring an invalid connection record", metadata: ["peer": "\(conn)", "error": "\(error)"])
            return nil
        }
    }

    /// Stores a record of this node's own friendships and lets gossip carry it on; starts
    /// gossip with a peer who just became a friend.
    /// `startGossip: false` when this node still has to tell the peer (a `friend-accept` must
    /// reach it before any gossip, or the peer would drop gossip from a not-yet friend).
    func store(_ object: SignedObject, startGossip shouldStart: Bool = true) async {
        guard let record = try? ConnectionRecord.verify(object) else { return }
        do { try context.store.storeConnection(object, record: record, receivedAt: Clock.nowMillis()) } catch {
            logger.error("cannot store a connection record", metadata: ["error": "\(error)"])
        }
        await perform(gossip.publish(object, now: Clock.nowMillis()))
        let peer = record.other(than: identity)
        if shouldStart, relationship(with: peer) == .friends, transport.connection(to: peer) != nil {
            await startGossip(with: peer)
        }
    }

    func myRecord(with peer: Identity) -> SignedObject? {
        guard let stored = try? context.store.connection(between: identity, and: peer, by: identity),
              stored.record.kind == .connection else { return nil }
        return stored.object
    }

    /// This node's connection record for the pair, signed now if missing. Gossip with the peer
    /// starts only once the caller has sent its answer (see ``store(_:startGossip:)``).
    func ensureMyRecord(with peer: Identity) async -> SignedObject {
        if let mine = myRecord(with: peer) { return mine }
        let object = ConnectionRecord(signer: identity, other: peer, ts: Clock.nowMillis()).signed(with: context.keys.signing)
        await store(object, startGossip: false)
        return object
    }

    /// Where this node stands with `peer`.
    public func relationship(with peer: Identity) -> Relationship {
        let records = (try? context.store.connections(involving: peer)) ?? []
        let pair = records.filter { $0.record.joins(identity, peer) }
        return .from(mine: pair.first { $0.record.by == identity }?.record, theirs: pair.first { $0.record.by == peer }?.record)
    }


    // MARK: - Waiting for answers

    /// Call before sending a request: answers that arrive before ``waitForReply(from:)`` starts
    /// waiting are kept for it.
    func expectReply(from peer: Identity) {
        earlyReplies[peer] = .some(nil)
    }

    func waitForReply(from peer: Identity) async -> String? {
        if case .some(.some(let early)) = earlyReplies.removeValue(forKey: peer) { return early }
        nextWaiter += 1
        let token = nextWaiter
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: NodeRuntime.replyTimeout)
            await self?.resolveWaiter(peer, token: token, with: nil)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            waiters[peer, default: [:]][token] = continuation
        }
    }

    func resolveWaiter(_ peer: Identity, token: UInt64, with value: String?) {
        if let c = waiters[peer]?.removeValue(forKey: token) { c.resume(returning: value) }
    }

    func resolveWaiters(_ peer: Identity, with value: String) {
        guard let list = waiters.removeValue(forKey: peer) else {
            if earlyReplies[peer] != nil { earlyReplies[peer] = .some(value) }
            return
        }
        earlyReplies[peer] = nil
        for (_, c) in list { c.resume(returning: value) }
    }
}
