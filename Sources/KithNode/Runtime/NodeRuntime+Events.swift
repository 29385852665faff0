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
        case .connected(let conn):
            neighbourhood.reach.lastSeen[conn.peer] = now
            neighbourhood.reach.redialer.connected(conn.peer)
            logger.info("connected", metadata: ["peer": "\(conn)"])
            // What the peer learns depends on who it is (`Protocol/disclosure.md`).
            await sendProfile(to: conn.peer)
            await greetForNAT(conn)
            if relationship(with: conn.peer) == .friends { await startGossip(with: conn.peer) }
            await resumeConversations(with: conn.peer)
            await resumeFriendship(with: conn.peer)
        case .disconnected(let conn, let reason):
            neighbourhood.reach.lastSeen[conn.peer] = now
            gossip.peerDisconnected(conn.peer)
            if transport.connection(to: conn.peer) == nil { pauseConversations(with: conn.peer) }
            forgetForNAT(conn.peer)
            logger.info("disconnected", metadata: ["peer": "\(conn)", "reason": "\(reason)"])
        case .message(let conn, let message):
            await handleMessage(conn, message)
        case .malformed(let conn, let error):
            logger.info("ignoring a malformed message", metadata: ["peer": "\(conn)", "error": "\(error)"])
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
            // Friends and friends of friends may ask; a stranger learns nothing.
            if isInScope(conn.peer) { try? await conn.send(.manifest(manifest.object)) }
        case .manifest(let object):
            guard let m = try? Manifest.verify(object, now: clock.now()), m.id == conn.peer, m.net == context.record.networkID else {
                logger.info("ignoring an invalid manifest", metadata: ["peer": "\(conn)"])
                return
            }
            if relationship(with: conn.peer) == .friends {
                await perform(gossip.publish(object, now: clock.now()))
            } else if gossip.hops(to: conn.peer).map({ $0 <= gossip.config.hops }) == true {
                await perform(gossip.receive(from: conn.peer, .items(manifests: [object], records: []), now: clock.now()))
            } else {
                logger.debug("ignoring the manifest of someone outside this node's scope", metadata: ["peer": "\(conn)"])
            }
        case .addresses(let endpoints, let share):
            guard relationship(with: conn.peer) == .friends else {
                return logger.debug("ignoring addresses from someone who is not a friend", metadata: ["peer": "\(conn)"])
            }
            do {
                try context.store.setAdvertisedAddresses(of: conn.peer, endpoints, sharedWithFriendsOfFriends: share == .fof, at: clock.now())
            } catch {
                logger.error("cannot keep a friend's addresses", metadata: ["peer": "\(conn)", "error": "\(error)"])
            }
        case .introduction(let message):
            await handleIntroduction(message, from: conn.peer)
        case .dhtKey(let key):
            heardDHTKey(key, from: conn.peer)
        case .whereIs(let peer):
            await answerWhereIs(peer, from: conn.peer)
        case .isAt(let peer, let endpoints):
            heardIsAt(peer, endpoints: endpoints, from: conn.peer)
        case .observed(let address):
            heardObserved(address, on: conn)
        case .relayOffer:
            heardRelayOffer(on: conn)
        case .relayCall(let circuit):
            heardRelayCall(circuit, on: conn)
        case .punch(let endpoints):
            await heardPunch(endpoints, on: conn)
        case .punchSync:
            heardPunchSync(on: conn)
        case .hello, .ping, .unknown:
            logger.debug("ignoring a message", metadata: ["type": "\(message.type)", "peer": "\(conn)"])
        }
    }
}

extension NodeRuntime {
    /// True for friends and friends of friends (this node's gossip scope).
    func isInScope(_ peer: Identity) -> Bool {
        relationship(with: peer) == .friends || gossip.hops(to: peer).map { $0 <= gossip.config.hops } == true
    }

    /// What a peer learns when a session opens or a friendship begins: a friend gets the
    /// manifest and where this node listens; a friend of a friend the manifest; a stranger
    /// nothing (`Protocol/disclosure.md`).
    func sendProfile(to peer: Identity) async {
        guard let conn = transport.connection(to: peer) else { return }
        let isFriend = relationship(with: peer) == .friends
        guard isFriend || isInScope(peer) else { return }
        do {
            try await conn.send(.manifest(manifest.object))
            if isFriend {
                try await conn.send(.addresses(endpoints: published.endpoints, share: context.model.policy.addresses))
                if let key = readKeyBytes() { try await conn.send(.dhtKey(key: key)) }
                await tellFriendForNAT(conn)
            }
        } catch {
            logger.debug("profile not sent", metadata: ["peer": "\(conn)", "error": "\(error)"])
        }
    }
}
