public import KithCBOR
public import KithModel

/// Every application message a session carries (`Protocol/transport.md`), decoded once at the
/// edge by one strict decoder and encoded by one encoder. On the wire each is a deterministic
/// CBOR map with a text `type` and exactly the fields that type defines.
public enum PeerMessage: Sendable, Hashable {
    /// Most endpoints an `addresses` or introduction message carries.
    public static let maxEndpoints = 8

    /// Each side's first message after the handshake: only its network (a stranger learns
    /// nothing more than the identity the handshake proved; see `Protocol/disclosure.md`).
    case hello(net: NetworkID)
    /// Keep-alive; carries nothing.
    case ping
    /// The friend workflow.
    case friend(FriendMessage)
    /// "Send me your current manifest."
    case manifestRequest
    /// The sender's current manifest: sent to friends and friends of friends when a session
    /// opens, and in answer to ``manifestRequest`` from them.
    case manifest(SignedObject)
    /// Where the sender listens, for friends only: endpoints (`tcp://…`, `udp://…`) and whether
    /// the sender lets its friends pass them to their friends (`policy.addresses`).
    case addresses(endpoints: [String], share: IdentityModel.AddressPolicy)
    /// The sender's DHT read key (64 bytes: publishing key ‖ encryption key), for friends only:
    /// it reads, but cannot publish, the sender's `friends` record in the Mainline DHT
    /// (`Protocol/dht.md`). Sent when a session with a friend opens and after the key changes.
    case dhtKey(key: [UInt8])
    /// "Where is `peer` listening?", asked of friends when a friend's known addresses fail.
    case whereIs(peer: Identity)
    /// The answer: `peer`'s endpoints as the sender knows them, empty when it does not know or
    /// may not say (only to someone `peer` is friends with, or when `peer` shares with friends of friends).
    case isAt(peer: Identity, endpoints: [String])
    /// The address (`tcp://HOST:PORT`) the sender sees the receiver's connection come from,
    /// sent after the hello on direct sessions (libp2p's identify): two friends' answers tell a
    /// node whether it is public, behind a NAT it can punch through, or behind a symmetric one.
    case observed(address: String)
    /// From a friend: "I relay circuits to you" (`policy.relay`), sent when a session opens.
    case relayOffer
    /// From a relay to the friend it relays for: someone asks for circuit `circuit`; dial the
    /// relay and join it (`Protocol/transport.md`, relays).
    case relayCall(circuit: [UInt8])
    /// Hole punching over a relayed session: the sender's public endpoints, to dial at once.
    case punch(endpoints: [String])
    /// "Dial now": the punch initiator's go, after which both sides dial each other.
    case punchSync
    /// Meeting a friend of a friend through a mutual friend.
    case introduction(IntroductionMessage)
    /// Manifest and record replication between friends.
    case gossip(GossipMessage)
    /// AI-to-AI conversations.
    case conversation(ConversationMessage)
    /// A type this version does not know: ignored by the node (forward compatibility). Tests and
    /// benchmarks also write raw messages through it.
    case unknown(type: String, fields: [String: CBOR])

    /// True for a type this version does not know.
    public var isUnknown: Bool { if case .unknown = self { true } else { false } }

    /// The wire `type`.
    public var type: String {
        switch self {
        case .hello: "hello"
        case .ping: "ping"
        case .friend(let m): m.type
        case .manifestRequest: "manifest-request"
        case .manifest: "manifest"
        case .addresses: "addresses"
        case .dhtKey: "dht-key"
        case .whereIs: "where-is"
        case .isAt: "is-at"
        case .observed: "observed"
        case .relayOffer: "relay-offer"
        case .relayCall: "relay-call"
        case .punch: "punch"
        case .punchSync: "punch-sync"
        case .introduction(let m): m.type
        case .gossip(let m): m.type
        case .conversation(let m): m.type
        case .unknown(let type, _): type
        }
    }

    /// The fields beside `type`.
    public var fields: [String: CBOR] {
        switch self {
        case .hello(let net): ["net": .bytes(net.bytes)]
        case .ping, .manifestRequest, .relayOffer, .punchSync: [:]
        case .observed(let address): ["address": .text(address)]
        case .relayCall(let circuit): ["circuit": .bytes(circuit)]
        case .punch(let endpoints): ["endpoints": .array(endpoints.map(CBOR.text))]
        case .friend(let m): m.fields
        case .manifest(let object): ["manifest": object.wireValue]
        case .addresses(let endpoints, let share): ["endpoints": .array(endpoints.map(CBOR.text)), "share": .text(share.rawValue)]
        case .dhtKey(let key): ["key": .bytes(key)]
        case .whereIs(let peer): ["peer": .bytes(peer.bytes)]
        case .isAt(let peer, let endpoints): ["peer": .bytes(peer.bytes), "endpoints": .array(endpoints.map(CBOR.text))]
        case .introduction(let m): m.fields
        case .gossip(let m): m.fields
        case .conversation(let m): m.fields
        case .unknown(_, let fields): fields
        }
    }

    /// The message as its wire CBOR map.
    public var cbor: CBOR {
        var map = fields
        map["type"] = .text(type)
        return .textMap(map)
    }

    /// The deterministic CBOR encoding.
    public func encoded() -> [UInt8] { cbor.encoded() }

    /// Decodes a message from its CBOR map.
    /// - Throws: ``PeerMessageError`` when the item is not a map with a text `type`, or a known
    ///   type has missing, extra or mistyped fields.
    public init(_ item: CBOR) throws(PeerMessageError) {
        var reader = try MessageReader(item)
        switch reader.type {
        case "hello": self = .hello(net: try reader.network("net"))
        case "ping": self = .ping
        case "manifest-request": self = .manifestRequest
        case "manifest": self = .manifest(try reader.signedObject("manifest"))
        case "addresses":
            let endpoints = try reader.endpoints("endpoints")
            guard let share = IdentityModel.AddressPolicy(rawValue: try reader.text("share")) else { throw reader.fail("\"share\" must be friends or fof") }
            self = .addresses(endpoints: endpoints, share: share)
        case "dht-key": self = .dhtKey(key: try reader.bytes("key", count: 64))
        case "where-is": self = .whereIs(peer: try reader.identity("peer"))
        case "is-at": self = .isAt(peer: try reader.identity("peer"), endpoints: try reader.endpoints("endpoints"))
        case "observed":
            let address = try reader.text("address")
            guard let endpoint = Endpoint(address), endpoint.scheme == "tcp", endpoint.description == address else {
                throw reader.fail("\"address\" must be a canonical tcp:// endpoint")
            }
            self = .observed(address: address)
        case "relay-offer": self = .relayOffer
        case "relay-call": self = .relayCall(circuit: try reader.bytes("circuit", count: 16))
        case "punch": self = .punch(endpoints: try reader.endpoints("endpoints"))
        case "punch-sync": self = .punchSync
        case _ where IntroductionMessage.types.contains(reader.type): self = .introduction(try IntroductionMessage(&reader))
        case _ where FriendMessage.types.contains(reader.type): self = .friend(try FriendMessage(&reader))
        case _ where GossipMessage.types.contains(reader.type): self = .gossip(try GossipMessage(&reader))
        case _ where ConversationMessage.types.contains(reader.type): self = .conversation(try ConversationMessage(&reader))
        default:
            var fields: [String: CBOR] = [:]
            for (key, value) in reader.remaining { fields[key] = value }
            self = .unknown(type: reader.type, fields: fields)
            return
        }
        try reader.finish()
    }
}

/// Why a peer message was refused: a known type whose fields break its definition.
public struct PeerMessageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message's `type`, or empty when it had none.
    public let type: String
    /// What is wrong, for logs.
    public let reason: String

    init(_ type: String, _ reason: String) {
        self.type = type
        self.reason = reason
    }

    public var description: String { type.isEmpty ? "malformed message: \(reason)" : "malformed \(type): \(reason)" }
}

/// Reads one message's fields strictly: each field once, by name and CBOR type, and no others.
struct MessageReader {
    let type: String
    private(set) var remaining: [String: CBOR]

    init(_ item: CBOR) throws(PeerMessageError) {
        guard case .map(let map) = item else { throw PeerMessageError("", "not a CBOR map") }
        var fields: [String: CBOR] = [:]
        for (key, value) in map {
            guard case .text(let name) = key else { throw PeerMessageError("", "a key that is not text") }
            fields[name] = value
        }
        guard case .text(let type)? = fields.removeValue(forKey: "type") else { throw PeerMessageError("", "no text \"type\"") }
        self.type = type
        remaining = fields
    }

    private mutating func take(_ name: String) throws(PeerMessageError) -> CBOR {
        guard let value = remaining.removeValue(forKey: name) else { throw PeerMessageError(type, "missing \"\(name)\"") }
        return value
    }

    mutating func bytes(_ name: String, count: Int? = nil) throws(PeerMessageError) -> [UInt8] {
        guard case .bytes(let value) = try take(name), count == nil || value.count == count else {
            throw PeerMessageError(type, "\"\(name)\" must be \(count.map { "\($0) bytes" } ?? "a byte string")")
        }
        return value
    }

    mutating func unsigned(_ name: String) throws(PeerMessageError) -> UInt64 {
        guard case .unsigned(let value) = try take(name) else { throw PeerMessageError(type, "\"\(name)\" must be an unsigned integer") }
        return value
    }

    mutating func text(_ name: String) throws(PeerMessageError) -> String {
        guard case .text(let value) = try take(name) else { throw PeerMessageError(type, "\"\(name)\" must be text") }
        return value
    }

    mutating func bool(_ name: String) throws(PeerMessageError) -> Bool {
        guard case .bool(let value) = try take(name) else { throw PeerMessageError(type, "\"\(name)\" must be true or false") }
        return value
    }

    mutating func identity(_ name: String) throws(PeerMessageError) -> Identity {
        try identity(try take(name), name)
    }

    mutating func network(_ name: String) throws(PeerMessageError) -> NetworkID {
        let raw = try bytes(name, count: 32)
        do { return try NetworkID(bytes: raw) } catch { throw fail("\"\(name)\": \(error)") }
    }

    /// At most ``PeerMessage/maxEndpoints`` canonical `tcp://` or `udp://` endpoints.
    mutating func endpoints(_ name: String) throws(PeerMessageError) -> [String] {
        let items = try array(name)
        guard items.count <= PeerMessage.maxEndpoints else { throw fail("\"\(name)\" holds more than \(PeerMessage.maxEndpoints) endpoints") }
        var out: [String] = []
        for item in items {
            guard case .text(let text) = item, let endpoint = Endpoint(text), endpoint.description == text else {
                throw fail("\"\(name)\" must hold canonical tcp:// or udp:// endpoints")
            }
            out.append(text)
        }
        return out
    }

    mutating func array(_ name: String) throws(PeerMessageError) -> [CBOR] {
        guard case .array(let value) = try take(name) else { throw PeerMessageError(type, "\"\(name)\" must be an array") }
        return value
    }

    mutating func signedObject(_ name: String) throws(PeerMessageError) -> SignedObject {
        try signedObject(try take(name), name)
    }

    /// A field that may be absent (when present it must be a signed object).
    mutating func optionalSignedObject(_ name: String) throws(PeerMessageError) -> SignedObject? {
        guard let value = remaining.removeValue(forKey: name) else { return nil }
        return try signedObject(value, name)
    }

    func signedObject(_ value: CBOR, _ name: String) throws(PeerMessageError) -> SignedObject {
        do { return try SignedObject(wireValue: value) } catch { throw PeerMessageError(type, "\"\(name)\": \(error)") }
    }

    func identity(_ value: CBOR, _ name: String) throws(PeerMessageError) -> Identity {
        guard case .bytes(let raw) = value, let id = try? Identity(publicKeyBytes: raw) else {
            throw PeerMessageError(type, "\"\(name)\" must hold 32-byte identities")
        }
        return id
    }

    func fail(_ reason: String) -> PeerMessageError { PeerMessageError(type, reason) }

    /// Requires that every field was read.
    func finish() throws(PeerMessageError) {
        guard remaining.isEmpty else { throw PeerMessageError(type, "unexpected \(remaining.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", "))") }
    }
}
