/// One KRPC message (BEP 5): a query, a response or an error, with its transaction id.
public struct KRPCMessage: Sendable, Equatable {
    /// Transaction id chosen by the querier and echoed in the answer.
    public var transaction: [UInt8]
    /// What the message says.
    public var body: Body
    /// BEP 43: the sender is read-only (queries only; it must not enter routing tables).
    public var readOnly: Bool
    /// BEP 42 / libtorrent: the address the responder saw the querier at.
    public var observedAddress: DHTAddress?
    /// Client version tag (`v`), when present.
    public var version: [UInt8]?

    public init(transaction: [UInt8], body: Body, readOnly: Bool = false, observedAddress: DHTAddress? = nil, version: [UInt8]? = nil) {
        self.transaction = transaction
        self.body = body
        self.readOnly = readOnly
        self.observedAddress = observedAddress
        self.version = version
    }

    public enum Body: Sendable, Equatable {
        case query(sender: NodeID, Query)
        case response(Response)
        case error(code: Int64, message: String)
    }

    /// The queries this node understands.
    public enum Query: Sendable, Equatable {
        case ping
        case findNode(target: NodeID)
        case getPeers(infoHash: NodeID)
        case announcePeer(infoHash: NodeID, port: UInt16, token: [UInt8], impliedPort: Bool)
        /// BEP 44 get; `seq`: send the item only if newer.
        case get(target: NodeID, seq: Int64?)
        /// BEP 44 mutable put.
        case put(MutableItem, token: [UInt8], cas: Int64?)
        /// A method this node does not serve (answered with error 204).
        case unknown(method: [UInt8])
    }

    /// Fields a response may carry (KRPC responses do not name their query).
    public struct Response: Sendable, Equatable {
        public var sender: NodeID
        public var nodes: [Contact] = []
        public var nodes6: [Contact] = []
        public var token: [UInt8]?
        public var peers: [DHTAddress] = []
        /// A BEP 44 item (`k`, `seq`, `sig`, `v`); its salt is the one the querier asked for, so
        /// it is filled in by whoever knows it.
        public var item: (key: [UInt8], seq: Int64, signature: [UInt8], value: Bencode)?
        /// `seq` without a value: the responder holds this sequence number.
        public var seq: Int64?

        public init(sender: NodeID) { self.sender = sender }

        public static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.sender == rhs.sender && lhs.nodes == rhs.nodes && lhs.nodes6 == rhs.nodes6 && lhs.token == rhs.token
                && lhs.peers == rhs.peers && lhs.seq == rhs.seq
                && lhs.item?.key == rhs.item?.key && lhs.item?.seq == rhs.item?.seq
                && lhs.item?.signature == rhs.item?.signature && lhs.item?.value == rhs.item?.value
        }
    }

    /// BEP 5 and BEP 44 error codes.
    public enum ErrorCode {
        public static let generic: Int64 = 201
        public static let server: Int64 = 202
        public static let protocolError: Int64 = 203
        public static let methodUnknown: Int64 = 204
        public static let valueTooBig: Int64 = 205
        public static let invalidSignature: Int64 = 206
        public static let saltTooBig: Int64 = 207
        public static let casMismatch: Int64 = 301
        public static let seqTooLow: Int64 = 302
    }
}

/// Why a datagram is not a KRPC message this node can use.
public enum KRPCError: Error, Equatable, Sendable {
    case bencode(BencodeError)
    case notADictionary
    case missingField(String)
    case badField(String)
}

extension KRPCMessage {
    /// Longest transaction id accepted.
    public static let maxTransactionBytes = 32

    /// Decodes and checks a datagram: strict bencode, every field this node reads of the right
    /// type and size; unknown extra fields are ignored (BEP 5 asks for that).
    public static func decode(_ bytes: [UInt8]) throws(KRPCError) -> KRPCMessage {
        let root: Bencode
        do { root = try Bencode.decode(bytes, limits: .datagram) } catch { throw .bencode(error) }
        guard case .dictionary = root else { throw .notADictionary }
        guard let transaction = root["t"]?.bytesValue else { throw .missingField("t") }
        guard transaction.count <= maxTransactionBytes else { throw .badField("t") }
        guard let kind = root["y"]?.bytesValue else { throw .missingField("y") }
        var observed: DHTAddress?
        if let ip = root["ip"]?.bytesValue { observed = DHTAddress(compact: ip) }
        let version = root["v"]?.bytesValue
        switch kind {
        case Array("q".utf8):
            guard let method = root["q"]?.bytesValue else { throw .missingField("q") }
            guard let arguments = root["a"], case .dictionary = arguments else { throw .missingField("a") }
            let sender = try nodeID(arguments, "id")
            let readOnly = arguments["ro"]?.integerValue == 1
            let query = try decodeQuery(method: method, arguments)
            return KRPCMessage(transaction: transaction, body: .query(sender: sender, query), readOnly: readOnly,
                               observedAddress: observed, version: version)
        case Array("r".utf8):
            guard let fields = root["r"], case .dictionary = fields else { throw .missingField("r") }
            return KRPCMessage(transaction: transaction, body: .response(try decodeResponse(fields)),
                               observedAddress: observed, version: version)
        case Array("e".utf8):
            guard case .list(let items)? = root["e"], items.count >= 1, let code = items[0].integerValue else {
                throw .missingField("e")
            }
            let message = items.count > 1 ? String(decoding: items[1].bytesValue ?? [], as: UTF8.self) : ""
            return KRPCMessage(transaction: transaction, body: .error(code: code, message: message), version: version)
        default:
            throw .badField("y")
        }
    }

    private static func nodeID(_ dict: Bencode, _ key: String) throws(KRPCError) -> NodeID {
        guard let bytes = dict[key]?.bytesValue else { throw .missingField(key) }
        guard let id = NodeID(bytes: bytes) else { throw .badField(key) }
        return id
    }

    private static func decodeQuery(method: [UInt8], _ a: Bencode) throws(KRPCError) -> Query {
        switch String(decoding: method, as: UTF8.self) {
        case "ping":
            return .ping
        case "find_node":
            return .findNode(target: try nodeID(a, "target"))
        case "get_peers":
            return .getPeers(infoHash: try nodeID(a, "info_hash"))
        case "announce_peer":
            let infoHash = try nodeID(a, "info_hash")
            guard let token = a["token"]?.bytesValue else { throw .missingField("token") }
            let implied = a["implied_port"]?.integerValue == 1
            let port = a["port"]?.integerValue ?? 0
            guard implied || (1...65_535).contains(port) else { throw .badField("port") }
            return .announcePeer(infoHash: infoHash, port: UInt16(clamping: port), token: token, impliedPort: implied)
        case "get":
            var seq: Int64?
            if let value = a["seq"] { guard let number = value.integerValue else { throw .badField("seq") }; seq = number }
            return .get(target: try nodeID(a, "target"), seq: seq)
        case "put":
            guard let token = a["token"]?.bytesValue else { throw .missingField("token") }
            guard let value = a["v"] else { throw .missingField("v") }
            guard let key = a["k"]?.bytesValue else { throw .badField("k") } // immutable puts are not served
            guard key.count == 32 else { throw .badField("k") }
            guard let seq = a["seq"]?.integerValue else { throw .missingField("seq") }
            guard let signature = a["sig"]?.bytesValue, signature.count == 64 else { throw .badField("sig") }
            var salt: [UInt8] = []
            if let value = a["salt"] { guard let bytes = value.bytesValue else { throw .badField("salt") }; salt = bytes }
            var cas: Int64?
            if let value = a["cas"] { guard let number = value.integerValue else { throw .badField("cas") }; cas = number }
            let item = MutableItem(key: key, salt: salt, seq: seq, value: value, signature: signature)
            return .put(item, token: token, cas: cas)
        default:
            return .unknown(method: method)
        }
    }

    private static func decodeResponse(_ r: Bencode) throws(KRPCError) -> Response {
        var response = Response(sender: try nodeID(r, "id"))
        if let value = r["nodes"] {
            guard let bytes = value.bytesValue, let nodes = Contact.parseCompact(bytes, ipv6: false) else { throw .badField("nodes") }
            response.nodes = nodes
        }
        if let value = r["nodes6"] {
            guard let bytes = value.bytesValue, let nodes = Contact.parseCompact(bytes, ipv6: true) else { throw .badField("nodes6") }
            response.nodes6 = nodes
        }
        if let value = r["token"] {
            guard let token = value.bytesValue, token.count <= 64 else { throw .badField("token") }
            response.token = token
        }
        if case .list(let values)? = r["values"] {
            response.peers = values.compactMap { $0.bytesValue.flatMap { DHTAddress(compact: $0) } }
        }
        if let seqValue = r["seq"] {
            guard let seq = seqValue.integerValue else { throw .badField("seq") }
            if let value = r["v"], let key = r["k"]?.bytesValue, let signature = r["sig"]?.bytesValue {
                guard key.count == 32, signature.count == 64 else { throw .badField("k") }
                response.item = (key, seq, signature, value)
            } else {
                response.seq = seq
            }
        }
        return response
    }

    /// The canonical encoding of this message.
    public func encoded() -> [UInt8] {
        var root: [String: Bencode] = ["t": .bytes(transaction)]
        if let version { root["v"] = .bytes(version) }
        if let observedAddress { root["ip"] = .bytes(observedAddress.compact) }
        switch body {
        case .query(let sender, let query):
            root["y"] = .string("q")
            var a: [String: Bencode] = ["id": .bytes(sender.bytes)]
            if readOnly { a["ro"] = .integer(1) }
            let method: [UInt8]
            switch query {
            case .ping:
                method = Array("ping".utf8)
            case .findNode(let target):
                method = Array("find_node".utf8)
                a["target"] = .bytes(target.bytes)
            case .getPeers(let infoHash):
                method = Array("get_peers".utf8)
                a["info_hash"] = .bytes(infoHash.bytes)
            case .announcePeer(let infoHash, let port, let token, let impliedPort):
                method = Array("announce_peer".utf8)
                a["info_hash"] = .bytes(infoHash.bytes)
                a["port"] = .integer(Int64(port))
                a["token"] = .bytes(token)
                if impliedPort { a["implied_port"] = .integer(1) }
            case .get(let target, let seq):
                method = Array("get".utf8)
                a["target"] = .bytes(target.bytes)
                if let seq { a["seq"] = .integer(seq) }
            case .put(let item, let token, let cas):
                method = Array("put".utf8)
                a["k"] = .bytes(item.key)
                if !item.salt.isEmpty { a["salt"] = .bytes(item.salt) }
                a["seq"] = .integer(item.seq)
                a["sig"] = .bytes(item.signature)
                a["v"] = item.value
                a["token"] = .bytes(token)
                if let cas { a["cas"] = .integer(cas) }
            case .unknown(let name):
                method = name
            }
            root["q"] = .bytes(method)
            root["a"] = .dict(a)
        case .response(let response):
            root["y"] = .string("r")
            var r: [String: Bencode] = ["id": .bytes(response.sender.bytes)]
            if !response.nodes.isEmpty { r["nodes"] = .bytes(response.nodes.flatMap(\.compact)) }
            if !response.nodes6.isEmpty { r["nodes6"] = .bytes(response.nodes6.flatMap(\.compact)) }
            if let token = response.token { r["token"] = .bytes(token) }
            if !response.peers.isEmpty { r["values"] = .list(response.peers.map { .bytes($0.compact) }) }
            if let item = response.item {
                r["k"] = .bytes(item.key)
                r["seq"] = .integer(item.seq)
                r["sig"] = .bytes(item.signature)
                r["v"] = item.value
            } else if let seq = response.seq {
                r["seq"] = .integer(seq)
            }
            root["r"] = .dict(r)
        case .error(let code, let message):
            root["y"] = .string("e")
            root["e"] = .list([.integer(code), .string(message)])
        }
        return Bencode.dict(root).encoded()
    }
}
