import Foundation
import KithCBOR
import KithCrypto
public import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    func handleFriendRequest(_ conn: PeerConnection, record: SignedObject) async {
        guard let record = verifiedRecord(record, from: conn) else { return }
        let peer = conn.peer
        let policy = context.model.policy.connect
        let alreadyMine = myRecord(with: peer) != nil
        if policy == .never && !alreadyMine {
            logger.notice("declined a friend request (policy.connect: never)", metadata: ["peer": "\(peer.did)"])
            try? await conn.send(.friend(.decline))
            return
        }
        await store(record)
        if alreadyMine || policy == .auto {
            let mine = await ensureMyRecord(with: peer)
            logger.notice("friends", metadata: ["peer": "\(peer.did)", "why": "\(alreadyMine ? "mutual request" : "policy.connect: auto")"])
            try? await conn.send(.friend(.accept(record: mine)))
            await startGossip(with: peer)
            replies.answer(peer, with: .accepted)
        } else {
            logger.notice("friend request waiting for `kith accept`", metadata: ["peer": "\(peer.did)"])
            try? await conn.send(.friend(.pending))
        }
    }

    func verifiedRecord(_ object: SignedObject, from conn: PeerConnection) -> SignedObject? {
        do {
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
        do { try context.store.storeConnection(object, record: record, receivedAt: clock.now()) } catch {
            logger.error("cannot store a connection record", metadata: ["error": "\(error)"])
        }
        await perform(gossip.publish(object, now: clock.now()))
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
        let object = ConnectionRecord(signer: identity, other: peer, ts: clock.now()).signed(with: context.keys.signing)
        await store(object, startGossip: false)
        return object
    }

    /// Where this node stands with `peer`; `.none` when storage cannot say (which grants nothing).
    public func relationship(with peer: Identity) -> Relationship {
        do { return try storedRelationship(with: peer) } catch {
            logger.error("cannot read the relationship; treating it as none", metadata: ["peer": "\(peer.did)", "error": "\(error)"])
            return .none
        }
    }

    /// Where this node stands with `peer`, from the stored connection records.
    func storedRelationship(with peer: Identity) throws(StoreError) -> Relationship {
        let pair = try context.store.connections(involving: peer).filter { $0.record.joins(identity, peer) }
        return .from(mine: pair.first { $0.record.by == identity }?.record, theirs: pair.first { $0.record.by == peer }?.record)
    }

    // MARK: - Waiting for answers

    /// Waits (at most ``replyTimeout``) for `peer`'s answer to a friend request; call
    /// `replies.expect(from:)` before sending it.
    func waitForReply(from peer: Identity) async -> FriendReply? {
        if let early = replies.takeEarly(from: peer) { return early }
        let token = replies.upcomingToken
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: NodeRuntime.replyTimeout)
            await self?.timeOutReply(peer, token: token)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            _ = replies.add(continuation, for: peer)
        }
    }

    private func timeOutReply(_ peer: Identity, token: UInt64) {
        replies.resolve(peer, token: token, with: nil)
    }
}
