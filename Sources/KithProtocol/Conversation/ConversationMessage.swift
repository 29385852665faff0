import KithCBOR
public import KithModel

/// The conversation protocol's messages (`Protocol/conversation.md`).
public enum ConversationMessage: Sendable, Hashable {
    /// A new conversation: its signed header, entry 1 and the initiator's manifest whose model
    /// commitment entry 1 carries.
    case open(header: SignedObject, entry: SignedObject, manifest: SignedObject)
    /// The next entry of conversation `conv`, with its author's manifest when the entry is the
    /// first of the conversation to carry that manifest's model commitment.
    case entry(conv: [UInt8], entry: SignedObject, manifest: SignedObject?)
    /// Entry `seq` of `conv` is stored durably.
    case ack(conv: [UInt8], seq: UInt64)
    /// The sender's seal over the ended conversation.
    case seal(conv: [UInt8], seal: SignedObject)
    /// "I hold `count` entries of `conv`": the receiver sends what is missing and its seal.
    case sync(conv: [UInt8], count: UInt64)

    static let types: Set<String> = ["conv-open", "conv-entry", "conv-ack", "conv-seal", "conv-sync"]

    /// True for the wire types of this protocol (to attribute a malformed message).
    public static func isConversationType(_ type: String) -> Bool { types.contains(type) }

    /// The conversation id, except for ``open`` (whose id is its header's hash).
    public var conv: [UInt8]? {
        switch self {
        case .open: nil
        case .entry(let conv, _, _), .ack(let conv, _), .seal(let conv, _), .sync(let conv, _): conv
        }
    }

    var type: String {
        switch self {
        case .open: "conv-open"
        case .entry: "conv-entry"
        case .ack: "conv-ack"
        case .seal: "conv-seal"
        case .sync: "conv-sync"
        }
    }

    var fields: [String: CBOR] {
        switch self {
        case .open(let header, let entry, let manifest): ["header": header.wireValue, "entry": entry.wireValue, "manifest": manifest.wireValue]
        case .entry(let conv, let entry, let manifest?): ["conv": .bytes(conv), "entry": entry.wireValue, "manifest": manifest.wireValue]
        case .entry(let conv, let entry, nil): ["conv": .bytes(conv), "entry": entry.wireValue]
        case .ack(let conv, let seq): ["conv": .bytes(conv), "seq": .unsigned(seq)]
        case .seal(let conv, let seal): ["conv": .bytes(conv), "seal": seal.wireValue]
        case .sync(let conv, let count): ["conv": .bytes(conv), "count": .unsigned(count)]
        }
    }

    init(_ reader: inout MessageReader) throws(PeerMessageError) {
        switch reader.type {
        case "conv-open":
            self = .open(header: try reader.signedObject("header"), entry: try reader.signedObject("entry"),
                         manifest: try reader.signedObject("manifest"))
        case "conv-entry":
            self = .entry(conv: try reader.bytes("conv", count: 32), entry: try reader.signedObject("entry"),
                          manifest: try reader.optionalSignedObject("manifest"))
        case "conv-ack": self = .ack(conv: try reader.bytes("conv", count: 32), seq: try reader.unsigned("seq"))
        case "conv-seal": self = .seal(conv: try reader.bytes("conv", count: 32), seal: try reader.signedObject("seal"))
        default: self = .sync(conv: try reader.bytes("conv", count: 32), count: try reader.unsigned("count"))
        }
    }
}
