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
        let now = clock.now()
        switch event {
        case .connected(let conn, let peerManifest, let object):
            neighbourhood.reach.lastSeen[conn.peer] = now
            neighbourhood.reach.redialer.connected(conn.peer)
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
            await resumeFriendship(with: conn.peer)
        case .disconnected(let conn, let reason):
            neighbourhood.reach.lastSeen[conn.peer] = now
            gossip.peerDisconnected(conn.peer)
            if transport.connection(to: conn.peer) == nil { pauseConversations(with: conn.peer) }
            logger.info("disconnected", metadata: ["peer": "\(conn)", "reason": "\(reason)"])
        case .message(let conn, let message):
            await handleMessage(conn, message)
        case .malformed(let conn, let error):
            logger.notice("ignoring a malformed message", metadata: ["peer": "\(conn)", "error": "\(error)"])
            if ConversationMessage.isConversationType(error.type) { conversations.engine.receivedMalformed() }
            if GossipMessage.isGossipType(error.type) { gossip.receivedMalformed(from: conn.peer) }
        }
    }

    func handleMessage(_ conn: PeerConnection, _ message: PeerMessage) async {
        switch message {
        case .friend(let message):
            await handleFriendMessage(conn, message)
        case .conversation(let message):
            await handleConversationMessage(conn, message)
        case .gossip(let message):
            if !gossip.isConnected(conn.peer) {
                // A friend whose gossip overtook our own bookkeeping: start now, then process.
                guard relationship(with: conn.peer) == .friends else { return }
                await startGossip(with: conn.peer)
            }
            await perform(gossip.receive(from: conn.peer, message, now: clock.now()))
        case .manifestRequest:
            try? await conn.send(.manifest(manifest.object))
        case .manifest(let object):
            guard let m = try? Manifest.verify(object, now: clock.now()), m.id == conn.peer, m.net == context.record.networkID else {
                logger.notice("ignoring an invalid manifest", metadata: ["peer": "\(conn)"])
                return
            }
            if relationship(with: conn.peer) == .friends {
                await perform(gossip.publish(object, now: clock.now()))
            } else {
                _ = try? context.store.storeManifest(object, manifest: m, receivedAt: clock.now())
            }
        case .hello, .ping, .unknown:
            logger.debug("ignoring a message", metadata: ["type": "\(message.type)", "peer": "\(conn)"])
        }
    }
}
