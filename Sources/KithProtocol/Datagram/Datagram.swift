import KithCBOR
public import KithCrypto
public import KithModel

/// A signed UDP datagram: signed object type `datagram` with fields `from`, `net`, `ts`,
/// `nonce` (16 bytes), `kind` and `body` (a map). On the wire it is the signed object's CBOR map
/// `{"type", "bytes", "sig"}`, at most 1200 bytes. See `Protocol/transport.md`.
public struct Datagram: Sendable, Hashable {
    /// The signed object type.
    public static let type = "datagram"
    /// Largest packet on the wire.
    public static let maxPacket = 1200
    /// Nonce length.
    public static let nonceLength = 16

    /// What the datagram says.
    public enum Kind: Sendable, Hashable {
        /// LAN discovery: "I am here, dial me on this TCP port; my manifest is at seq with hash".
        case announce(tcpPort: UInt64, seq: UInt64, hash: [UInt8])
        /// "My manifest changed: it is now at seq with hash".
        case head(seq: UInt64, hash: [UInt8])

        var name: String {
            switch self {
            case .announce: return "announce"
            case .head: return "head"
            }
        }

        var body: CBOR {
            switch self {
            case .announce(let port, let seq, let hash):
                return .textMap(["port": .unsigned(port), "seq": .unsigned(seq), "hash": .bytes(hash)])
            case .head(let seq, let hash):
                return .textMap(["seq": .unsigned(seq), "hash": .bytes(hash)])
            }
        }
    }

    /// The sender.
    public var from: Identity
    /// The network.
    public var net: NetworkID
    /// Send time, ms since the epoch.
    public var ts: UInt64
    /// 16 random bytes; (from, nonce) is never accepted twice.
    public var nonce: [UInt8]
    /// The content.
    public var kind: Kind

    /// Creates a datagram with a fresh nonce.
    public init(from: Identity, net: NetworkID, ts: UInt64, kind: Kind, nonce: [UInt8] = Random.bytes(Datagram.nonceLength)) {
        self.from = from
        self.net = net
        self.ts = ts
        self.nonce = nonce
        self.kind = kind
    }

    /// Signs and encodes the packet.
    public func packet(signedWith key: Ed25519.KeyPair) -> [UInt8] {
        let object = SignedObject.sign(type: Datagram.type, payload: .textMap([
            "from": .bytes(from.bytes), "net": .bytes(net.bytes), "ts": .unsigned(ts), "nonce": .bytes(nonce),
            "kind": .text(kind.name), "body": kind.body,
        ]), with: key)
        let packet = object.wireValue.encoded()
        precondition(packet.count <= Datagram.maxPacket, "datagrams are small by construction")
        return packet
    }

    /// Decodes a packet strictly and verifies its signature; checks nothing about time, network
    /// or replay (that is ``DatagramFilter``'s job).
    public static func decode(_ packet: [UInt8]) throws(DatagramError) -> Datagram {
        guard packet.count <= maxPacket else { throw .oversize }
        let object: SignedObject
        let map: [String: CBOR]
        do {
            object = try SignedObject(wireValue: CBOR.decode(packet, limits: CBORLimits(maxInputSize: maxPacket, maxDepth: 3)))
            guard object.type == type else { throw DatagramError.malformed("not a datagram") }
            map = try object.payload(limits: CBORLimits(maxInputSize: maxPacket, maxDepth: 3))
        } catch let error as DatagramError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
        guard Set(map.keys) == ["from", "net", "ts", "nonce", "kind", "body"] else {
            throw .malformed("a datagram has exactly from, net, ts, nonce, kind, body")
        }
        guard case .bytes(let fromBytes)? = map["from"], let from = try? Identity(publicKeyBytes: fromBytes),
              case .bytes(let netBytes)? = map["net"], let net = try? NetworkID(bytes: netBytes),
              case .unsigned(let ts)? = map["ts"],
              case .bytes(let nonce)? = map["nonce"], nonce.count == nonceLength,
              case .text(let kindName)? = map["kind"],
              case .map? = map["body"], let body = map["body"]
        else { throw .malformed("a field has the wrong type or length") }
        guard object.isSigned(by: from) else { throw .badSignature }
        let kind: Kind
        switch kindName {
        case "announce":
            guard body.mapValue?.count == 3, case .unsigned(let port)? = body["port"], (1...65535).contains(port),
                  case .unsigned(let seq)? = body["seq"], case .bytes(let hash)? = body["hash"], hash.count == 32
            else { throw .malformed("announce body is {port, seq, hash}") }
            kind = .announce(tcpPort: port, seq: seq, hash: hash)
        case "head":
            guard body.mapValue?.count == 2, case .unsigned(let seq)? = body["seq"], case .bytes(let hash)? = body["hash"], hash.count == 32
            else { throw .malformed("head body is {seq, hash}") }
            kind = .head(seq: seq, hash: hash)
        default:
            throw .unknownKind
        }
        return Datagram(from: from, net: net, ts: ts, kind: kind, nonce: nonce)
    }
}

/// Why a datagram was dropped. Each reason has its own counter.
public enum DatagramError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Over 1200 bytes.
    case oversize
    /// Not a well-formed datagram.
    case malformed(String)
    /// The signature does not verify under `from`.
    case badSignature
    /// A kind this node does not know.
    case unknownKind
    /// Another network's datagram.
    case wrongNetwork
    /// `ts` more than 120 s away from now.
    case stale
    /// (from, nonce) already seen.
    case replayed
    /// The source sent too many datagrams.
    case rateLimited
    /// Our own datagram.
    case fromSelf
    /// The replay cache is full of nonces still within the window: refused rather than
    /// forgetting one (which would let it be replayed).
    case overloaded

    /// A short name for counters.
    public var counterName: String {
        switch self {
        case .oversize: return "oversize"
        case .malformed: return "malformed"
        case .badSignature: return "bad_signature"
        case .unknownKind: return "unknown_kind"
        case .wrongNetwork: return "wrong_network"
        case .stale: return "stale"
        case .replayed: return "replayed"
        case .rateLimited: return "rate_limited"
        case .fromSelf: return "from_self"
        case .overloaded: return "overloaded"
        }
    }

    public var description: String {
        if case .malformed(let why) = self { return "malformed datagram: \(why)" }
        return counterName.replacingOccurrences(of: "_", with: " ")
    }
}
