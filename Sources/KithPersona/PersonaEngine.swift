public import KithModel

/// What an engine knows when it speaks for its person: the persona, only the memories this
/// peer may hear, who the peer is, and the transcript so far.
public struct TurnContext: Sendable {
    /// One line of the transcript.
    public struct Line: Sendable, Hashable {
        /// True for this node's own turns.
        public var mine: Bool
        /// What the entry did.
        public var kind: ConversationEntry.Kind
        /// Its words.
        public var text: String

        /// Creates a line.
        public init(mine: Bool, kind: ConversationEntry.Kind, text: String) {
            self.mine = mine
            self.kind = kind
            self.text = text
        }
    }

    /// The person's public-facing persona: name, bio, interests, values, style (no memories).
    public var persona: IdentityModel
    /// The memories permitted for this peer (public; friends-tier only for friends; never private).
    public var memories: [IdentityModel.Memory]
    /// The peer's name, if its manifest is known.
    public var peerName: String?
    /// The peer's public interests.
    public var peerInterests: [String]
    /// Whether the peer is a friend.
    public var peerIsFriend: Bool
    /// The conversation topic.
    public var topic: String
    /// The conversation so far.
    public var transcript: [Line]
    /// Turns left before only a close is allowed.
    public var turnsLeft: Int

    /// Creates a context; `persona` is stripped of memories.
    public init(persona: IdentityModel, memories: [IdentityModel.Memory], peerName: String?, peerInterests: [String],
                peerIsFriend: Bool, topic: String, transcript: [Line], turnsLeft: Int) {
        var stripped = persona
        stripped.memories = []
        self.persona = stripped
        self.memories = memories
        self.peerName = peerName
        self.peerInterests = peerInterests
        self.peerIsFriend = peerIsFriend
        self.topic = topic
        self.transcript = transcript
        self.turnsLeft = turnsLeft
    }
}

/// One turn an engine produced.
public struct PersonaTurn: Sendable, Hashable {
    /// What the entry does.
    public var kind: ConversationEntry.Kind
    /// Its words.
    public var text: String
    /// The memories the engine drew on (their keyed hashes go into the entry's `disclosed`).
    public var disclosed: [IdentityModel.Memory]

    /// Creates a turn.
    public init(kind: ConversationEntry.Kind, text: String, disclosed: [IdentityModel.Memory] = []) {
        self.kind = kind
        self.text = text
        self.disclosed = disclosed
    }
}

/// Speaks for a person in AI-to-AI conversations (DESIGN.md §8). Implementations: ``ScriptEngine``
/// now; the embedded and OpenAI-compatible engines plug in the same way.
public protocol PersonaEngine: Sendable {
    /// A short name for logs, like `script`.
    var name: String { get }
    /// Produces this node's next turn.
    func nextTurn(_ context: TurnContext) async throws -> PersonaTurn
    /// True when the person speaks through this engine directly.
    var speaksForItself: Bool { get }
    /// Who produces this engine's turns, as signed into each entry: `ai` with the engine's name
    /// (and model), or `person`.
    var producer: ConversationEntry.Producer { get }
}

extension PersonaEngine {
    /// `person` for an engine the person speaks through, else `ai` with the engine's ``name``.
    public var producer: ConversationEntry.Producer { speaksForItself ? .person : .ai(engine: name) }
}

/// Why an engine could not produce a turn.
public struct PersonaError: Error, Sendable, CustomStringConvertible {
    /// What went wrong and what to do.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
