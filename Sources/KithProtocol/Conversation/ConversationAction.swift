public import KithModel

/// What the conversation engine asks its driver to do, in order. A driver performs them one by
/// one and stops at the first persist that fails (then calls
/// ``ConversationEngine/restore(_:from:)``), so nothing is acknowledged that was not stored.
public enum ConversationAction: Sendable {
    /// Send a message to the peer (skipped when no session is open: resumption catches up).
    case send(to: Identity, ConversationMessage)
    /// Store a new conversation: its header, the manifest it carries and entry 1.
    case persistConversation(ConversationLog)
    /// Store one appended entry (with the manifest it brought into the conversation, if any)
    /// and the conversation's new state.
    case persistEntry(conv: [UInt8], seq: UInt64, SignedObject, manifest: SignedObject?, state: ConversationLog.State)
    /// Store a seal and the conversation's new state.
    case persistSeal(conv: [UInt8], by: Identity, SignedObject, state: ConversationLog.State)
    /// Ask this node's persona engine for its next turn, then call
    /// ``ConversationEngine/turnProduced(_:_:now:)`` (or `turnFailed`).
    case requestTurn(conv: [UInt8])
    /// Tell whoever follows the conversation (`kith talk`, logs).
    case report(conv: [UInt8], ConversationReport)
    /// A `propose` in this conversation was accepted, by either AI: the two AIs agreed that
    /// their people should connect. Only the person (or their `policy.connect`) decides.
    case proposalAccepted(conv: [UInt8], with: Identity)
    /// A peer asked to sync a conversation completed here: load it from storage and perform
    /// ``ConversationEngine/syncReply(to:log:theirCount:)``.
    case replayCompleted(conv: [UInt8], to: Identity, theirCount: UInt64)
}

/// What happened in a conversation, for the people following it.
public enum ConversationReport: Sendable, Hashable {
    /// This node opened it, on `topic`.
    case started(topic: String)
    /// A peer opened it (or it was refused: a `decline` follows).
    case opened(by: Identity, topic: String)
    /// An entry was stored, by either side.
    case entry(ConversationEntry)
    /// This node sealed it.
    case ended
    /// Both seals are held.
    case complete
    /// Something refused or gone wrong that the conversation survives, for logs.
    case problem(String)
    /// The conversation cannot go on here; followers should stop.
    case failed(String)
    /// Both sides opened a conversation at the same moment: this one (this node's) gives way to
    /// `winner` (the peer's), which its followers should follow instead.
    case superseded(by: [UInt8])
}

/// Facts about the peer that policy needs when a conversation opens; the driver reads them from
/// storage. `nil` means the read failed, and the engine refuses rather than guess.
public struct PeerStanding: Sendable, Hashable {
    /// Whether the peer is a friend.
    public var isFriend: Bool?
    /// Hop distance in the friend graph, nil beyond the gossip scope.
    public var hops: Int?
    /// Whether the peer signed two manifests with one seq.
    public var equivocating: Bool
    /// Conversations this node took part in over the last 24 hours.
    public var conversationsToday: Int?

    /// Creates the facts.
    public init(isFriend: Bool?, hops: Int?, equivocating: Bool, conversationsToday: Int?) {
        self.isFriend = isFriend
        self.hops = hops
        self.equivocating = equivocating
        self.conversationsToday = conversationsToday
    }
}

/// A turn this node's persona engine produced.
public struct ProducedTurn: Sendable, Hashable {
    /// What the entry does (the engine's rules may change it: see `Protocol/conversation.md`).
    public var kind: ConversationEntry.Kind
    /// Its words.
    public var text: String
    /// Keyed hashes of the memories the persona engine was given.
    public var disclosed: [[UInt8]]
    /// Who produced the words: the AI engine, or the person speaking for themselves.
    public var producer: ConversationEntry.Producer

    /// Creates a turn.
    public init(kind: ConversationEntry.Kind, text: String, disclosed: [[UInt8]] = [], producer: ConversationEntry.Producer) {
        self.kind = kind
        self.text = text
        self.disclosed = disclosed
        self.producer = producer
    }
}

/// Conversation protocol outcomes, for `kith status`.
public struct ConversationCounters: Sendable, Hashable {
    /// Conversations peers opened here.
    public var opened = 0
    /// Opens that broke the rules (header, entry 1, participants, network).
    public var opensRefused = 0
    /// Entries stored from peers.
    public var entriesAccepted = 0
    /// Entries that broke the rules.
    public var entriesRefused = 0
    /// Entries and opens already held.
    public var duplicates = 0
    /// Seals that did not verify or came from the wrong peer.
    public var sealsRefused = 0
    /// Messages whose fields broke their definition.
    public var malformed = 0
    /// Entries for conversations this node does not have open with that peer.
    public var entriesForUnknownConversations = 0
    /// Syncs not answered because the peer asked too often.
    public var syncsRateLimited = 0
    /// Opens this node's policy refused (answered with a decline, nothing kept).
    public var refused = 0
    /// Opens dropped unanswered because the peer was refused too often.
    public var refusalsRateLimited = 0

    /// All zero.
    public init() {}

    /// By the names `kith status` shows.
    public var byName: [String: Int] {
        ["opened": opened, "opens_refused": opensRefused, "entries_accepted": entriesAccepted, "entries_refused": entriesRefused,
         "duplicates": duplicates, "seals_refused": sealsRefused, "malformed": malformed,
         "entries_for_unknown_conversations": entriesForUnknownConversations,
         "syncs_rate_limited": syncsRateLimited, "refused": refused, "refusals_rate_limited": refusalsRateLimited].filter { $0.value > 0 }
    }
}
