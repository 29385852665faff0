/// What `kith talk` and `kith chat` show as a conversation unfolds (one JSON object per event).
public struct TalkEvent: Sendable, Codable, Hashable {
    /// Which event.
    public enum Kind: String, Sendable, Codable, Hashable {
        /// This node opened the conversation (`text`: the topic).
        case started
        /// An entry was stored (`seq`, `author`, `kind`, `text`).
        case entry
        /// A person speaking for themselves is to type the next turn.
        case yourTurn = "your-turn"
        /// This node sealed the ended conversation.
        case ended
        /// Both seals are held.
        case complete
        /// It cannot go on (`message` says why).
        case failed
    }

    /// Which event.
    public var event: Kind
    /// The conversation id (hex; empty before it exists).
    public var conv: String
    /// For `entry`: its seq, author did, kind and text.
    public var seq: UInt64?
    public var author: String?
    public var kind: String?
    public var text: String?
    /// For `failed`, `ended` and `complete` answers: a sentence for people.
    public var message: String?

    /// Creates an event.
    public init(_ event: Kind, conv: String, seq: UInt64? = nil, author: String? = nil, kind: String? = nil, text: String? = nil,
                message: String? = nil) {
        self.event = event
        self.conv = conv
        self.seq = seq
        self.author = author
        self.kind = kind
        self.text = text
        self.message = message
    }
}
