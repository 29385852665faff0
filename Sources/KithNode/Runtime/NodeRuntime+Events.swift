import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging

extension NodeRuntime {
    // MARK: - Events

    func handle(_ event: TransportEvent) async {
        let now = Clock.nowMillis()
        switch event {
        case .connected(let conn, let peerManifest, let object):
            lastSeen[conn.peer] = now
            redial[conn.peer] = nil
            do {
                let outcome = try context.store.storeManifest(object, manifest: peerManifest, receivedAt: now)
                if outcome == .equivocation {
                    logger.warning("peer signed two different manifests with one seq", metadata: ["peer": "\(conn.peer.did)"])
                }
            } catch {
                logger.error("cannot store a manifest", metadata: ["error": "\(error)"])
            }
            logger.info("connected", metadata: ["peer": "\(conn)", "name": "\(peerManifest.name)"])
            if relationship(with: conn.peer) == .friends {
                await perform(gossip.publish(object, now: now))
                await startGossip(with: conn.peer)
            }
            await resumeConversations(with: conn.peer)
            // Our own record without theirs: (re)send the request; a friend who accepted while we
            // were away answers with their record.
            if relationship(with: conn.peer) == .requested, let mine = myRecord(with: conn.peer) {
                try? await conn.send(type: "friend-request", fields: ["record": mine.wireValue])
            }
        case .disconnected(let conn, let reason):
            lastSeen[conn.peer] = now
            gossipPeers.remove(conn.peer)
            gossip.peerDisconnected(conn.peer)
            logger.info("disconnected", metadata: ["peer": "\(conn)", "reason": "\(reason)"])
        case .message(let conn, let type, let body):
            await handleMessage(conn, type: type, body: body)
        }
    }

    func handleMessage(_ conn: PeerConnection, type: String, body: CBOR) async {
        switch type {
        case "friend-request":
            await handleFriendRequest(conn, body: body)
        case "friend-accept":
            guard let record = verifiedRecord(body, from: conn) else { return }
            // Only an answer to our own request completes a friendship.
            guard myRecord(with: conn.peer) != nil else { return }
            await store(record)
            logger.notice("friend request accepted", metadata: ["peer": "\(conn.peer.did)"])
            resolveWaiters(conn.peer, with: "accepted")
        case _ where NodeRuntime.conversationTypes.contains(type):
            await handleConversationMessage(conn, type: type, body: body)
        case _ where GossipEngine.messageTypes.contains(type):
            if !gossipPeers.contains(conn.peer) {
                // A friend whose gossip overtook our own bookkeeping: start now, then process.
                guard relationship(with: conn.peer) == .friends else { return }
                await startGossip(with: conn.peer)
            }
            await perform(gossip.receive(from: conn.peer, type: type, body: body, now: Clock.nowMillis()))
        case "manifest-request":
            try? await conn.send(type: "manifest", fields: ["manifest": manifest.object.wireValue])
        case "manifest":
            guard let wire = body["manifest"], let object = try? SignedObject(wireValue: wire),
                  let m = try? Manifest.verify(object, now: Clock.nowMillis()), m.id == conn.peer, m.net == context.record.networkID
            else {
                logger.notice("ignoring an invalid manifest", metadata: ["peer": "\(conn)"])
                return
            }
            if relationship(with: conn.peer) == .friends {
                await perform(gossip.publish(object, now: Clock.nowMillis()))
            } else {
                _ = try? context.store.storeManifest(object, manifest: m, receivedAt: Clock.nowMillis())
            }
        case "friend-pending":
            resolveWaiters(conn.peer, with: "pending")
        case "friend-decline":
            resolveWaiters(conn.peer, with: "declined")
        default:
            logger.debug("ignoring unknown message", metadata: ["type": "\(type)", "peer": "\(conn)"])
        }
    }
}
