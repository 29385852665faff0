import KithModel
import KithCrypto
import KithProtocol
import NIOCore

/// The relay's circuits: waiting for the friend to join, and open.
struct RelayState {
    /// Whether this node relays for its friends (`policy.relay`).
    var enabled = false
    /// Circuits asked for and not yet joined, by id.
    var waiting: [[UInt8]: WaitingCircuit] = [:]
    /// Circuits open or waiting: in all, by friend, by the dialler's network.
    var open = 0
    var byFriend: [Identity: Int] = [:]
    var byNetwork: [String: Int] = [:]
    /// `relay-call`s to each friend (a token bucket, see ``RelayLimits/callBurst``).
    var calls: [Identity: (tokens: Double, at: NIODeadline)] = [:]

    struct WaitingCircuit {
        let channel: any Channel
        let pipe: NIOLoopBound<RelayPipe>
        /// The bytes carried, shared by both halves once joined.
        let circuit: RelayCircuit
        let admission: UInt64
    }
}

extension Transport {
    /// Turns relaying for friends on or off (`policy.relay`); open circuits stay until they end.
    public func setRelaying(_ enabled: Bool) {
        state.withLockedValue { $0.relay.enabled = enabled }
    }

    /// Whether this node relays for its friends.
    public var isRelaying: Bool { state.withLockedValue { $0.relay.enabled } }

    /// Circuits open or waiting now.
    public var openCircuits: Int { state.withLockedValue { $0.relay.open } }

    /// Someone asks, on inbound connection `channel`, for a circuit to `target` (called on the
    /// channel's event loop, with the pipe already made). On success the friend gets a
    /// `relay-call` and has ``RelayLimits/joinTimeout`` to join.
    func requestCircuit(to target: Identity, channel: any Channel, pipe: RelayPipe, inbound: InboundAdmission) -> RelayFrame.Refusal? {
        let limits = self.limits.relay
        let id = Random.bytes(RelayFrame.circuitLength)
        let outcome: Result<PeerConnection, RelayFrame.Refusal> = state.withLockedValue { s in
            guard s.relay.enabled, s.friends.contains(target) else { return .failure(.notRelaying) }
            guard let friend = s.sessions[target], friend.isActive, !friend.isRelayed else { return .failure(.notConnected) }
            let now = NIODeadline.now()
            var calls = s.relay.calls[target] ?? (limits.callBurst, now)
            calls.tokens = min(limits.callBurst, calls.tokens + Double((now - calls.at).nanoseconds) / 1e9 * limits.callsPerSecond)
            calls.at = now
            s.relay.calls[target] = calls
            guard s.relay.open < limits.circuits, s.relay.byFriend[target, default: 0] < limits.circuitsPerFriend,
                  s.relay.byNetwork[inbound.network, default: 0] < limits.circuitsPerNetwork, calls.tokens >= 1
            else {
                s.counters.circuitsRefused += 1
                return .failure(.full)
            }
            s.relay.calls[target]?.tokens -= 1
            s.relay.open += 1
            s.relay.byFriend[target, default: 0] += 1
            s.relay.byNetwork[inbound.network, default: 0] += 1
            s.relay.waiting[id] = RelayState.WaitingCircuit(channel: channel, pipe: NIOLoopBound(pipe, eventLoop: channel.eventLoop),
                                                            circuit: pipe.circuit, admission: inbound.id)
            return .success(friend)
        }
        let friend: PeerConnection
        switch outcome {
        case .failure(let refusal): return refusal
        case .success(let f): friend = f
        }
        // Counted free when the dialler's connection closes, however it closes.
        channel.closeFuture.whenComplete { [self] _ in
            state.withLockedValue { s in
                s.relay.waiting[id] = nil
                s.relay.open -= 1
                s.relay.byFriend[target, default: 1] -= 1
                if s.relay.byFriend[target] == 0 { s.relay.byFriend[target] = nil }
                s.relay.byNetwork[inbound.network, default: 1] -= 1
                if s.relay.byNetwork[inbound.network] == 0 { s.relay.byNetwork[inbound.network] = nil }
            }
        }
        Task { try? await friend.send(.relayCall(circuit: id)) }
        let joinTimeout = channel.eventLoop.scheduleTask(in: limits.joinTimeout) { [self] in
            let unjoined = state.withLockedValue { $0.relay.waiting.removeValue(forKey: id) != nil }
            guard unjoined else { return }
            count { $0.circuitsUnanswered += 1 }
            channel.writeAndFlush(ByteBuffer(bytes: RelayFrame.refusal(.noAnswer))).whenComplete { _ in channel.close(promise: nil) }
        }
        // Both cancelled when the circuit ends sooner: a scheduled task holds its channel.
        let lifetime = channel.eventLoop.scheduleTask(in: limits.lifetime) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in
            joinTimeout.cancel()
            lifetime.cancel()
        }
        return nil
    }

    /// The friend joins circuit `id` on inbound connection `channel` (called on its event loop,
    /// with its pipe made): the two connections are joined. False when no such circuit waits.
    func joinCircuit(_ id: [UInt8], channel: any Channel, pipe: RelayPipe, inbound: InboundAdmission, install: () -> Void) -> Bool {
        let now = clock.now()
        let waiting: RelayState.WaitingCircuit? = state.withLockedValue { s in
            guard let w = s.relay.waiting.removeValue(forKey: id) else { return nil }
            // Both halves now count as sessions kept for friends: no eviction aims at them.
            _ = s.admission.established(w.admission, friend: true, now: now, random: { Int.random(in: 0..<$0) })
            _ = s.admission.established(inbound.id, friend: true, now: now, random: { Int.random(in: 0..<$0) })
            s.counters.circuitsJoined += 1
            return w
        }
        guard let waiting else { return false }
        install()
        pipe.join(waiting.channel, sharing: waiting.circuit)
        let other = waiting.pipe
        waiting.channel.eventLoop.execute { other.value.join(channel) }
        channel.closeFuture.whenComplete { _ in waiting.channel.close(promise: nil) }
        return true
    }
}
