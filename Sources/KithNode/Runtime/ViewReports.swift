public import KithModel

/// The `people` command: everyone within reach and the friendships between them.
public struct PeopleReport: Sendable, Codable {
    /// This node's identity (the centre of the graph).
    public var me: String
    /// People whose manifests this node holds, nearest first.
    public var people: [PersonReport]
    /// Friendships among this node and those people, each a pair of did:keys (both signed).
    public var edges: [[String]]
}

/// One row of the `conversations` command.
public struct ConversationItem: Sendable, Codable {
    /// Conversation id (hex).
    public var id: String
    /// The other participant.
    public var with: String
    /// Their name, when a manifest gives one.
    public var name: String?
    /// The topic.
    public var topic: String
    /// Entries stored.
    public var entries: Int
    /// `open`, `ended`, `complete`.
    public var state: String
    /// When it last changed, ms since the epoch.
    public var updatedAt: UInt64
}

/// What an audit of a stored conversation says, as a badge.
public struct AuditBadge: Sendable, Codable, Hashable {
    /// `valid` (every check passes and both sealed), `incomplete` (valid so far, not closed and
    /// sealed by both) or `invalid`.
    public var status: String
    /// Why it is not `valid`: the problems the audit found.
    public var problems: [String]
    /// What could not be checked, though nothing is wrong.
    public var notes: [String]

    /// The badge for an audit: problems of the log as a whole (open, unsealed) mean
    /// `incomplete`; any other problem means `invalid`.
    public init(_ audit: AuditResult) {
        let structural = audit.problems.filter { $0.record != "log" }
        status = !structural.isEmpty ? "invalid" : (audit.isComplete && audit.problems.isEmpty ? "valid" : "incomplete")
        problems = audit.problems.map(\.description)
        notes = audit.notes
    }
}

/// The `conversation` command: a transcript with its audit.
public struct ConversationDetail: Sendable, Codable {
    /// Conversation id (hex).
    public var id: String
    /// The other participant.
    public var with: String
    /// Their name, when known.
    public var name: String?
    /// The topic.
    public var topic: String
    /// `open`, `ended`, `complete`.
    public var state: String
    /// The audit of every signature, the chain and the seals.
    public var audit: AuditBadge
    /// The entries in order.
    public var entries: [Turn]

    /// One entry.
    public struct Turn: Sendable, Codable {
        /// Its seq (1-based).
        public var seq: UInt64
        /// The author's did:key.
        public var author: String
        /// The author's name, when known.
        public var authorName: String?
        /// True when this node's identity wrote it.
        public var mine: Bool
        /// `say`, `propose`, `accept`, `decline`, `close`.
        public var kind: String
        /// The words.
        public var text: String
        /// When, ms since the epoch.
        public var ts: UInt64
        /// Who produced the words: `ai (ENGINE)`, `person`, `node`, or `not recorded`.
        public var producer: String
        /// The memory items the author's engine was given for this turn.
        public var disclosed: [DisclosedMemory]
    }

    /// A memory a turn drew on: for this node's own turns, the memory itself when it is still
    /// in `identity.yaml`; for the peer's, only that one was given (its hash).
    public struct DisclosedMemory: Sendable, Codable {
        /// Its keyed hash, as the entry records it (hex).
        public var hash: String
        /// The memory, when this node can tell which one it was.
        public var text: String?
        /// Its visibility then, when known.
        public var visibility: String?
    }
}

/// The `export` command: a conversation as a file.
public struct ExportReport: Sendable, Codable {
    /// A file name to save it under.
    public var filename: String
    /// `application/x-kithlog` or `text/markdown`.
    public var mediaType: String
    /// The file's text.
    public var text: String
}

/// The `identity` command: the editable profile and the policy that decides who hears what.
public struct IdentityReport: Sendable, Codable {
    /// The editable part of `identity.yaml`.
    public var profile: IdentityProfile
    /// The policy, as `identity.yaml` names its values (`converse`, `connect`, `addresses`, …).
    public var policy: [String: String]
    /// The manifest seq now signed.
    public var seq: UInt64
}

/// What each kind of peer can learn (`Protocol/disclosure.md`), for a profile as it stands
/// or as edited.
public struct DisclosurePreview: Sendable, Codable {
    /// Stranger, friend of a friend, friend: in that order.
    public var audiences: [Audience]

    /// What one kind of peer sees.
    public struct Audience: Sendable, Codable {
        /// `stranger`, `friend of a friend`, `friend`.
        public var audience: String
        /// Whether it receives the signed manifest (name, bio, interests).
        public var profile: Bool
        /// Whether this node's AI converses with it at all (`policy.converse`).
        public var converses: Bool
        /// Memories its AI may be told in a conversation.
        public var memories: [String]
        /// Whether it learns this node's network addresses.
        public var addresses: Bool
        /// Conditions, in plain words.
        public var notes: [String]
    }
}

/// The `save-identity` command's answer.
public struct SaveIdentityReport: Sendable, Codable {
    /// True when `identity.yaml` was written and reloaded.
    public var saved: Bool
    /// The manifest seq after saving.
    public var seq: UInt64
    /// Whether a new manifest was signed (the public part changed).
    public var changed: Bool
    /// When not saved: which field is wrong (as `identity.yaml` names it, `memories[2].text`)
    /// and why.
    public var field: String?
    /// When not saved: what is wrong and what to do.
    public var error: String?
}
