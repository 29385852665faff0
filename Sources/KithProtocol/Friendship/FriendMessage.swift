import KithCBOR
public import KithModel

/// The friend workflow's messages (`Protocol/transport.md`, connection records).
public enum FriendMessage: Sendable, Hashable {
    /// Asks for a friendship with the sender's signed `connection` record and its manifest (the
    /// requester shows who it is; the other side shows nothing until it agrees).
    case request(record: SignedObject, manifest: SignedObject)
    /// Completes the pair with the sender's signed `connection` record and its manifest.
    case accept(record: SignedObject, manifest: SignedObject)
    /// The request waits for the person (`policy.connect: ask`).
    case pending
    /// Refused (`never`, or the person declined).
    case decline

    static let types: Set<String> = ["friend-request", "friend-accept", "friend-pending", "friend-decline"]

    var type: String {
        switch self {
        case .request: "friend-request"
        case .accept: "friend-accept"
        case .pending: "friend-pending"
        case .decline: "friend-decline"
        }
    }

    var fields: [String: CBOR] {
        switch self {
        case .request(let record, let manifest), .accept(let record, let manifest): ["record": record.wireValue, "manifest": manifest.wireValue]
        case .pending, .decline: [:]
        }
    }

    init(_ reader: inout MessageReader) throws(PeerMessageError) {
        switch reader.type {
        case "friend-request": self = .request(record: try reader.signedObject("record"), manifest: try reader.signedObject("manifest"))
        case "friend-accept": self = .accept(record: try reader.signedObject("record"), manifest: try reader.signedObject("manifest"))
        case "friend-pending": self = .pending
        default: self = .decline
        }
    }
}
