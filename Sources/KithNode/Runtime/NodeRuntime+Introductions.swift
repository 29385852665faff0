import Foundation
public import KithModel
import KithNet
import KithProtocol
import KithStore
import Logging

/// The driver of the ``IntroductionEngine``: meeting friends of friends through a mutual friend,
/// so no one hands out addresses to people outside its friends (`Protocol/disclosure.md`).
extension NodeRuntime {
    /// How long an introduction may take before the requester gives up on one mutual friend.
    static let introductionWait: Duration = .seconds(10)
    /// Most mutual friends asked for one introduction.
    static let introducersAsked = 3

    /// What the engine needs to know, read now.
    func introductionFacts() -> IntroductionEngine.Facts {
        IntroductionEngine.Facts(
            isFriend: { [self] peer in (try? storedRelationship(with: peer)).map { $0 == .friends } },
            sharedAddresses: { [self] peer in
                guard let advertised = try? context.store.advertisedAddresses(of: peer), advertised.sharedWithFriendsOfFriends else { return nil }
                return advertised.endpoints
            },
            wouldMeet: { [self] requester in
                // Introduced by a friend, the requester is a friend of a friend by definition.
                context.model.policy.converse != .friends && !gossip.equivocating.contains(requester)
            },
            myEndpoints: published.endpoints)
    }

    /// An introduction message from a peer.
    func handleIntroduction(_ message: IntroductionMessage, from peer: Identity) async {
        await perform(neighbourhood.introductions.engine.receive(message, from: peer, facts: introductionFacts(), now: clock.now()))
    }

    /// Once a second: introductions whose target never answered end.
    func tickIntroductions() async {
        await perform(neighbourhood.introductions.engine.tick(now: clock.now()))
    }

    func perform(_ actions: [IntroductionEngine.Action]) async {
        for action in actions {
            switch action {
            case .send(let to, let message):
                // An offer goes to a friend this node may have to dial; answers only over open sessions.
                let conn = if case .offer = message { await dialAny(to) } else { transport.connection(to: to) }
                do { try await conn?.send(.introduction(message)) } catch {
                    logger.debug("introduction message not sent", metadata: ["peer": "\(to.did)", "error": "\(error)"])
                }
            case .learned(let peer, let ok, let endpoints, let via):
                neighbourhood.introductions.learned.learned(peer, .init(ok: ok, endpoints: endpoints, at: clock.now(), via: via))
                logger.info(ok ? "introduced" : "an introduction did not happen", metadata: ["peer": "\(peer.did)", "via": "\(via.did)"])
            case .note(let text):
                logger.debug("\(text)")
            }
        }
    }

    /// Asks connected mutual friends (at most ``introducersAsked``, one at a time) to introduce
    /// this node to `peer`; true once one passed on where `peer` can be reached.
    func introduce(_ peer: Identity) async -> Bool {
        let mutual = gossip.graph.neighbours(peer).filter { transport.connection(to: $0) != nil && relationship(with: $0) == .friends }
        for via in mutual.sorted().prefix(Self.introducersAsked) {
            let asked = clock.now()
            await perform(neighbourhood.introductions.engine.request(peer, via: via, endpoints: published.endpoints, now: asked))
            let deadline = ContinuousClock.now + Self.introductionWait
            while ContinuousClock.now < deadline {
                if let answer = neighbourhood.introductions.learned.answer(about: peer, via: via, since: asked) {
                    if answer.ok { return true }
                    break
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        return false
    }

    /// The mutual friend who last passed on where `peer` can be reached, if any (`kith demo`).
    public func introducer(of peer: Identity) -> Identity? {
        neighbourhood.introductions.learned.introducer(of: peer)
    }
}
