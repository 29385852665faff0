/// Every signed record of one conversation, as stored or exported: the header, the
/// participants' manifests it carries, the entries in order and the seals.
public struct ConversationRecords: Sendable {
    /// The header.
    public var header: SignedObject
    /// The manifests the participants brought (version 2 entries name their `model`).
    public var manifests: [SignedObject]
    /// The entries, in order.
    public var entries: [SignedObject]
    /// The seals.
    public var seals: [SignedObject]

    /// Creates a record set.
    public init(header: SignedObject, manifests: [SignedObject] = [], entries: [SignedObject], seals: [SignedObject]) {
        self.header = header
        self.manifests = manifests
        self.entries = entries
        self.seals = seals
    }

    /// The records of a log.
    public init(_ log: ConversationLog) {
        self.init(header: log.headerObject, manifests: log.manifests.map(\.object), entries: log.entries.map(\.object),
                  seals: log.participants.compactMap { log.seals[$0]?.object })
    }
}
