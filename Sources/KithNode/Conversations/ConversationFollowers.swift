import KithPersona

/// What the node keeps beside the conversation engine for each unfinished conversation: the
/// persona engine speaking in it and the `kith talk` streams following it.
struct ConversationFollowers {
    private var engines: [[UInt8]: any PersonaEngine] = [:]
    private var subscribers: [[UInt8]: [AsyncStream<TalkEvent>.Continuation]] = [:]
    /// Turns the disclosure guard replaced whole with its fixed answer.
    var guardBlocked = 0

    /// A conversation this node opened: its engine and the stream of the person who asked.
    mutating func begin(_ conv: [UInt8], engine: any PersonaEngine, subscriber: AsyncStream<TalkEvent>.Continuation) {
        engines[conv] = engine
        subscribers[conv, default: []].append(subscriber)
    }

    func engine(_ conv: [UInt8]) -> (any PersonaEngine)? { engines[conv] }
    mutating func setEngine(_ engine: any PersonaEngine, for conv: [UInt8]) { engines[conv] = engine }

    func broadcast(_ conv: [UInt8], _ event: TalkEvent) {
        for c in subscribers[conv] ?? [] { c.yield(event) }
    }

    /// Both sides opened at once and `loser` gave way: its engine and streams follow `winner`.
    mutating func move(from loser: [UInt8], to winner: [UInt8]) {
        if let engine = engines.removeValue(forKey: loser), engines[winner] == nil { engines[winner] = engine }
        subscribers[winner, default: []] += subscribers.removeValue(forKey: loser) ?? []
    }

    /// The conversation is over here: streams finish, resources go.
    mutating func end(_ conv: [UInt8]) {
        for c in subscribers.removeValue(forKey: conv) ?? [] { c.finish() }
        engines[conv] = nil
    }
}

/// What a turn context needs to know about the peer.
struct PeerInfo {
    var name: String?
    var interests: [String]
    var isFriend: Bool
}
