import KithCBOR
public import KithModel

/// Meeting a friend of a friend through a mutual friend (`Protocol/disclosure.md`): the
/// requester asks the mutual friend, who asks the target, and passes each side's addresses to the
/// other only when both agreed.
public enum IntroductionMessage: Sendable, Hashable {
    /// To a mutual friend: "introduce me to `peer`". `endpoints` are the sender's addresses for
    /// `peer`, passed on only if `peer` agrees.
    case request(peer: Identity, endpoints: [String])
    /// From the mutual friend to the target: "`peer`, a friend of mine, asks to meet you".
    case offer(peer: Identity)
    /// The target's answer to the mutual friend: `ok` with its addresses for `peer`, or not.
    case reply(peer: Identity, ok: Bool, endpoints: [String])
    /// From the mutual friend: where `peer` can be reached (`ok`), or that the introduction did
    /// not happen.
    case addresses(peer: Identity, ok: Bool, endpoints: [String])

    static let types: Set<String> = ["intro-request", "intro-offer", "intro-reply", "intro-addresses"]

    /// The identity the message is about.
    public var peer: Identity {
        switch self {
        case .request(let peer, _), .offer(let peer), .reply(let peer, _, _), .addresses(let peer, _, _): peer
        }
    }

    var type: String {
        switch self {
        case .request: "intro-request"
        case .offer: "intro-offer"
        case .reply: "intro-reply"
        case .addresses: "intro-addresses"
        }
    }

    var fields: [String: CBOR] {
        switch self {
        case .request(let peer, let endpoints): ["peer": .bytes(peer.bytes), "endpoints": .array(endpoints.map(CBOR.text))]
        case .offer(let peer): ["peer": .bytes(peer.bytes)]
        case .reply(let peer, let ok, let endpoints), .addresses(let peer, let ok, let endpoints):
            ["peer": .bytes(peer.bytes), "ok": .bool(ok), "endpoints": .array(endpoints.map(CBOR.text))]
        }
    }

    init(_ reader: inout MessageReader) throws(PeerMessageError) {
        let peer = try reader.identity("peer")
        switch reader.type {
        case "intro-request": self = .request(peer: peer, endpoints: try reader.endpoints("endpoints"))
        case "intro-offer": self = .offer(peer: peer)
        case "intro-reply": self = .reply(peer: peer, ok: try reader.bool("ok"), endpoints: try reader.endpoints("endpoints"))
        default: self = .addresses(peer: peer, ok: try reader.bool("ok"), endpoints: try reader.endpoints("endpoints"))
        }
    }
}
