import KithCBOR
import KithCrypto
import KithDHT
import KithModel
import KithProtocol

extension FuzzTarget {
    /// Generated seed inputs (valid messages the fixtures can make); Fuzz/seed.sh adds the
    /// committed vectors and examples from the repository.
    public var generatedSeeds: [String: [UInt8]] {
        switch self {
        case .dht:
            let id = NodeID(bytes: [UInt8](repeating: 1, count: 20))!
            let target = NodeID(bytes: [UInt8](repeating: 2, count: 20))!
            let item = MutableItem.signed(value: .bytes(PublicRecord.message(key: Fixtures.signerA.publicKey.bytes,
                                                                             endpoints: NodeEndpoints(tcp: ["127.0.0.1:7400"])).encoded()),
                                          seq: 1, keyPair: Fixtures.signerA)
            var response = KRPCMessage.Response(sender: id)
            response.nodes = [Contact(id: target, address: DHTAddress(ip: [127, 0, 0, 1], port: 6881)!)]
            response.token = [1, 2, 3, 4]
            response.item = (item.key, item.seq, item.signature, item.value)
            func query(_ q: KRPCMessage.Query) -> [UInt8] { KRPCMessage(transaction: [0, 1], body: .query(sender: id, q)).encoded() }
            return [
                "ping": query(.ping),
                "find-node": query(.findNode(target: target)),
                "get": query(.get(target: target, seq: 3)),
                "put": query(.put(item, token: [9, 9, 9, 9, 9, 9, 9, 9], cas: 0)),
                "announce": query(.announcePeer(infoHash: target, port: 6881, token: [1], impliedPort: true)),
                "response": KRPCMessage(transaction: [0, 1], body: .response(response)).encoded(),
                "error": KRPCMessage(transaction: [0, 1], body: .error(code: 302, message: "seq")).encoded(),
                "dns": item.value.bytesValue ?? [],
            ]
        case .cbor:
            return [
                "manifest-payload": Fixtures.manifest.bytes,
                "manifest-wire": Fixtures.manifest.wireValue.encoded(),
                "nested": CBOR.textMap(["a": .array([.unsigned(1), .int(-2), .bytes([1, 2]), .text("x"), .bool(true), .null])]).encoded(),
            ]
        case .session:
            var initiator = SecureSession(role: .initiator(expected: nil), credentials: Fixtures.initiator)
            var seeds: [String: [UInt8]] = [:]
            if case .send(let m1)? = initiator.start().first { seeds["message-1"] = m1 }
            // A whole conversation from the initiator's side as far as it goes without the responder.
            seeds["message-1-twice"] = (seeds["message-1"] ?? []) + (seeds["message-1"] ?? [])
            return seeds
        case .noise:
            var i = try! NoiseHandshake(pattern: .XX, initiator: true, prologue: [], localStatic: Fixtures.staticA)
            var r = try! NoiseHandshake(pattern: .XX, initiator: false, prologue: [], localStatic: Fixtures.staticB)
            let m1 = try! i.writeMessage()
            _ = try! r.readMessage(m1)
            let m2 = try! r.writeMessage(payload: Fixtures.initiator.proof.encoded)
            _ = try! i.readMessage(m2)
            let m3 = try! i.writeMessage(payload: Fixtures.initiator.proof.encoded)
            return ["message-1": m1, "message-2": m2, "message-3": m3]
        case .datagram:
            let from = Identity(publicKey: Fixtures.signerA.publicKey)
            let hash = [UInt8](repeating: 7, count: 32)
            return [
                "announce": Datagram(from: from, net: .main, ts: 1_800_000_000_000, kind: .announce(tcpPort: 7400, seq: 3, hash: hash),
                                     nonce: [UInt8](repeating: 1, count: Datagram.nonceLength)).packet(signedWith: Fixtures.signerA),
                "head": Datagram(from: from, net: .main, ts: 1_800_000_000_000, kind: .head(seq: 4, hash: hash),
                                 nonce: [UInt8](repeating: 2, count: Datagram.nonceLength)).packet(signedWith: Fixtures.signerA),
            ]
        case .conversation:
            let a = Identity(publicKey: Fixtures.signerA.publicKey), b = Identity(publicKey: Fixtures.signerB.publicKey)
            let header = ConversationHeader(from: a, to: b, topic: "fuzz", ts: 1_799_999_000_000, net: .main, maxTurns: 6)
                .signed(with: Fixtures.signerA)
            var log = try! ConversationLog(header: header)
            try! log.addManifest(Fixtures.manifest)
            let first = log.makeEntry(key: Fixtures.signerA, kind: .say, text: "hello", model: Fixtures.model,
                                      disclosed: [], ts: 1_799_999_000_001, producer: .ai(engine: "fuzz"))
            try! log.append(first)
            func framed(_ messages: [PeerMessage]) -> [UInt8] {
                messages.flatMap { m -> [UInt8] in let e = m.encoded(); return [UInt8(e.count >> 8), UInt8(e.count & 0xff)] + e }
            }
            let open = PeerMessage.conversation(.open(header: header, entry: first, manifest: Fixtures.manifest))
            return [
                "open": framed([open]),
                "open-sync-ack": framed([open, .conversation(.sync(conv: log.id, count: 1)), .conversation(.ack(conv: log.id, seq: 2))]),
                "entry-unknown": framed([.conversation(.entry(conv: log.id, entry: first, manifest: Fixtures.manifest))]),
                "gossip-and-friend": framed([.gossip(.want(manifests: [a], records: [])), .friend(.pending), .ping, .manifestRequest]),
            ]
        case .signed:
            let a = Identity(publicKey: Fixtures.signerA.publicKey), b = Identity(publicKey: Fixtures.signerB.publicKey)
            let record = ConnectionRecord(signer: a, other: b, ts: 1_000).signed(with: Fixtures.signerA)
            let header = ConversationHeader(from: a, to: b, topic: "fuzz", ts: 1_000, net: .main, maxTurns: 4).signed(with: Fixtures.signerA)
            var log = try! ConversationLog(header: header)
            try! log.addManifest(Fixtures.manifest)
            let entry = log.makeEntry(key: Fixtures.signerA, kind: .say, text: "hello", model: Fixtures.model,
                                      disclosed: [], ts: 1_001, producer: .ai(engine: "fuzz"))
            try! log.append(entry)
            let seal = log.makeSeal(key: Fixtures.signerA)
            return [
                "manifest-envelope": Array(Fixtures.manifest.envelopeJSON.utf8),
                "manifest-wire": Fixtures.manifest.wireValue.encoded(),
                "manifest-payload": Fixtures.manifest.bytes,
                "connection-wire": record.wireValue.encoded(),
                "header-envelope": Array(header.envelopeJSON.utf8),
                "entry-payload": entry.bytes,
                "seal-wire": seal.wireValue.encoded(),
                "proof": Fixtures.initiator.proof.encoded,
                "kithlog": Array(KithLog.export(ConversationRecords(header: header, manifests: [Fixtures.manifest], entries: [entry],
                                                                    seals: [seal])).utf8),
            ]
        case .identityYAML:
            return ["minimal": Array("name: Fuzz\n".utf8)]
        }
    }
}

extension Fixtures {
    static let model = [UInt8](repeating: 9, count: 32)
    static let manifest = try! Manifest(id: Identity(publicKey: signerA.publicKey), seq: 2, ts: 1_000, exp: 4_000_000_000_000, name: "Fuzz",
                                        bio: "seed", interests: ["cbor", "noise"], model: model,
                                        endpoints: ["tcp://127.0.0.1:7400"], caps: [], net: .main).signed(with: signerA)
}
