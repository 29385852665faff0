import Foundation
import KithCBOR
import KithCrypto
import KithModel
import KithTestSupport
import Testing

/// Generates the vectors in `Protocol/vectors/manifests.json` from fixed seeds and checks the
/// committed file byte for byte. Run with `KITH_WRITE_VECTORS=1` to rewrite the file after an
/// intended format change.
@Suite("Protocol vectors")
struct ProtocolVectorTests {
    static let path = Fixtures.repoFile("Protocol/vectors/manifests.json")

    static func key(_ fill: UInt8) -> Ed25519.KeyPair {
        var seed = [UInt8](repeating: fill, count: 32)
        return try! Ed25519.KeyPair(seed: SecretBytes(consuming: &seed))
    }

    static func manifest(_ key: Ed25519.KeyPair, seq: UInt64 = 1, name: String, bio: String = "", interests: [String] = [],
                         endpoints: [String] = [], caps: [String] = [], net: NetworkID = .main) -> Manifest {
        Manifest(id: Identity(publicKey: key.publicKey), seq: seq, ts: 1_764_547_200_000, exp: 4_102_444_800_000,
                 name: name, bio: bio, interests: interests, model: BLAKE2b.hash(Array("kith test vector model \(name)".utf8)),
                 endpoints: endpoints, caps: caps, net: net)
    }

    /// Concatenates map entries in the given order (possibly not canonical).
    static func rawMap(_ entries: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [0xa0 | UInt8(entries.count)]
        for (k, v) in entries { out += CBOR.text(k).encoded() + v }
        return out
    }

    static func signRaw(_ bytes: [UInt8], _ key: Ed25519.KeyPair, type: String = "manifest") -> SignedObject {
        try! SignedObject(type: "manifest", bytes: bytes, sig: key.sign(SignedObject.signingMessage(type: type, bytes: bytes)))
    }

    static func payloadEntries(_ m: Manifest) -> [(String, [UInt8])] {
        m.payload.mapValue!.map { ($0.key.textValue!, $0.value.encoded()) }
            .sorted { CBOR.text($0.0).encoded().lexicographicallyPrecedes(CBOR.text($1.0).encoded()) }
    }

    static func generate() throws -> [String: Any] {
        let ada = key(0x01), ben = key(0x02), cleo = key(0x03)
        let valid: [(String, Ed25519.KeyPair, Manifest)] = [
            ("minimal", ada, manifest(ada, name: "Ada")),
            ("full", ben, manifest(ben, seq: 7, name: "Ben", bio: "Bouldering, sourdough and long bike rides.",
                                   interests: ["climbing", "baking", "cycling"],
                                   endpoints: ["tcp://192.0.2.7:7400", "udp://192.0.2.7:7400", "tcp://[2001:db8::7]:7400"],
                                   caps: ["converse", "gossip"])),
            ("unicode-and-other-network", cleo, manifest(cleo, name: "Cléo 水", bio: "Poèmes 🐦", interests: ["poésie"],
                                                          net: NetworkID(name: "test"))),
        ]
        var validOut: [[String: Any]] = []
        for (label, key, m) in valid {
            let object = try m.signed(with: key)
            var seedCopy = key.seed().withUnsafeBytes { Array($0) }
            defer { SecretBytes.zero(&seedCopy) }
            validOut.append([
                "name": label, "seed": Hex.encode(seedCopy), "did": m.id.did,
                "fields": [
                    "v": 1, "id": Hex.encode(m.id.bytes), "seq": m.seq, "ts": m.ts, "exp": m.exp, "name": m.name, "bio": m.bio,
                    "interests": m.interests, "model": Hex.encode(m.model), "endpoints": m.endpoints, "caps": m.caps,
                    "net": Hex.encode(m.net.bytes),
                ] as [String: Any],
                "signing_input": Hex.encode(SignedObject.signingMessage(type: "manifest", bytes: object.bytes)),
                "bytes": Hex.encode(object.bytes), "sig": Hex.encode(object.sig), "hash": Hex.encode(object.hash),
                "envelope": object.envelopeJSON,
            ])
        }

        let base = manifest(ada, name: "Ada", interests: ["climbing"])
        let entries = payloadEntries(base)
        var invalid: [(String, String, String)] = []  // name, reason, envelope
        func add(_ name: String, _ reason: String, _ object: SignedObject) { invalid.append((name, reason, object.envelopeJSON)) }

        add("unsorted-keys", "map keys not in bytewise order of their encodings", signRaw(rawMap(entries.reversed()), ada))
        add("non-shortest-integer", "seq 1 encoded as 0x18 0x01",
            signRaw(rawMap(entries.map { $0.0 == "seq" ? ("seq", [0x18, 0x01]) : $0 }), ada))
        add("float", "ts as a float", signRaw(rawMap(entries.map { $0.0 == "ts" ? ("ts", [0xfb, 0x42, 0x79, 0xab, 0x8b, 0x5c, 0x00, 0x00, 0x00]) : $0 }), ada))
        add("trailing-bytes", "a byte after the map", signRaw(rawMap(entries) + [0x00], ada))
        var withExtra = base.payload.mapValue!
        withExtra[.text("extra")] = 1
        add("unknown-field", "field 'extra' is not part of manifest v1", signRaw(CBOR.map(withExtra).encoded(), ada))
        add("wrong-domain", "signed as type 'entry' instead of 'manifest'", signRaw(base.payload.encoded(), ada, type: "entry"))
        add("wrong-signer", "signed by a key other than id", signRaw(base.payload.encoded(), ben))
        var tampered = try base.signed(with: ada).bytes
        tampered[tampered.count - 1] ^= 0x01
        add("tampered", "last payload byte changed after signing", try SignedObject(type: "manifest", bytes: tampered, sig: base.signed(with: ada).sig))
        var longBio = base
        longBio.bio = String(repeating: "a", count: 1025)
        add("bio-too-long", "bio over 1024 bytes", signRaw(longBio.payload.encoded(), ada))
        var huge = base
        huge.bio = String(repeating: "a", count: 9000)
        add("oversize", "payload over 8192 bytes", signRaw(huge.payload.encoded(), ada))
        var expBeforeTs = base
        expBeforeTs.exp = expBeforeTs.ts - 1
        add("exp-before-ts", "exp not after ts", signRaw(expBeforeTs.payload.encoded(), ada))
        var seqZero = base
        seqZero.seq = 0
        add("seq-zero", "seq starts at 1", signRaw(seqZero.payload.encoded(), ada))
        let good = try base.signed(with: ada)
        var invalidOut = invalid.map { ["name": $0.0, "reason": $0.1, "envelope": $0.2] }
        invalidOut.append(["name": "envelope-whitespace", "reason": "the envelope is not in canonical text form",
                           "envelope": good.envelopeJSON.replacingOccurrences(of: ",", with: ", ")])
        invalidOut.append(["name": "envelope-key-order", "reason": "envelope keys not in the order type, bytes, sig",
                           "envelope": #"{"bytes":"\#(Base64URL.encode(good.bytes))","type":"manifest","sig":"\#(Base64URL.encode(good.sig))"}"#])
        invalidOut.append(["name": "envelope-padding", "reason": "base64url with padding",
                           "envelope": #"{"type":"manifest","bytes":"\#(Base64URL.encode(good.bytes))","sig":"\#(Base64URL.encode(good.sig))=="}"#])

        return [
            "description": "Kith manifest vectors (Protocol/manifest.md). Seeds are Ed25519 seeds; all hex is lowercase; envelopes are the canonical JSON envelope text. Every 'invalid' vector must be rejected; its signature is valid over its bytes unless the reason says otherwise.",
            "valid": validOut,
            "invalid": invalidOut,
        ]
    }

    static func render(_ object: [String: Any]) throws -> Data {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0a)
        return data
    }

    @Test func committedVectorsMatchTheImplementation() throws {
        let generated = try Self.render(try Self.generate())
        if ProcessInfo.processInfo.environment["KITH_WRITE_VECTORS"] == "1" {
            try generated.write(to: Self.path)
        }
        let committed = try Data(contentsOf: Self.path)
        #expect(committed == generated, "Protocol/vectors/manifests.json is stale: rerun with KITH_WRITE_VECTORS=1 after an intended change")
    }

    static let conversationPath = Fixtures.repoFile("Protocol/vectors/conversation.kithlog")
    static let legacyConversationPath = Fixtures.repoFile("Protocol/vectors/conversation-v1.kithlog")

    /// A complete conversation between the seed-0x01 and seed-0x03 identities, fixed in every
    /// byte: their manifests, five version 2 entries by AI engines and by a person, both seals.
    static func conversationVector() throws -> String {
        let ada = key(0x01), cleo = key(0x03)
        let start: UInt64 = 1_764_547_200_000
        func manifest(_ k: Ed25519.KeyPair, _ name: String) throws -> SignedObject {
            try Manifest(id: Identity(publicKey: k.publicKey), seq: 3, ts: start - 3_600_000, exp: start + 29 * 86_400_000, name: name,
                         bio: "", interests: ["poetry"], model: BLAKE2b.hash(Array("kith test vector model \(name)".utf8)), endpoints: [],
                         caps: [], net: .main).signed(with: k)
        }
        let manifests = [try manifest(ada, "Ada"), try manifest(cleo, "Cleo")]
        var log = try ConversationLog(header: ConversationHeader(
            from: Identity(publicKey: ada.publicKey), to: Identity(publicKey: cleo.publicKey), topic: "poetry and climbing",
            ts: start, net: .main, maxTurns: 6).signed(with: ada))
        for m in manifests { try log.addManifest(m) }
        let turns: [(Ed25519.KeyPair, ConversationEntry.Kind, String, ConversationEntry.Producer)] = [
            (ada, .say, "Hi Cleo! Ben says you write poems about estuary birds.", .ai(engine: "embedded")),
            (cleo, .say, "Hello Ada! Herons, mostly. You climb?", .ai(engine: "openai", model: "smollm2-135m")),
            (ada, .propose, "I do — we should connect.", .ai(engine: "embedded")),
            (cleo, .accept, "Gladly.", .person),
            (ada, .close, "Talk soon.", .node),
        ]
        for (i, (k, kind, text, producer)) in turns.enumerated() {
            let model = producer.kind == .node ? ConversationLog.nodeModel : try Manifest.verify(manifests[k.publicKey == ada.publicKey ? 0 : 1]).model
            try log.append(log.makeEntry(key: k, kind: kind, text: text, model: model,
                                         disclosed: i == 1 ? [BLAKE2b.hash(Array("a memory".utf8))] : [], ts: start + 1_000 + UInt64(i) * 1000,
                                         producer: producer))
        }
        try log.addSeal(log.makeSeal(key: ada))
        try log.addSeal(log.makeSeal(key: cleo))
        return KithLog.export(ConversationRecords(log))
    }

    @Test func committedConversationVectorMatchesAndAudits() throws {
        let generated = try Self.conversationVector()
        if ProcessInfo.processInfo.environment["KITH_WRITE_VECTORS"] == "1" {
            try generated.write(to: Self.conversationPath, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOf: Self.conversationPath, encoding: .utf8)
        #expect(committed == generated, "Protocol/vectors/conversation.kithlog is stale")
        let audit = KithLog.audit(try KithLog.parse(Array(committed.utf8)), now: 1_800_000_000_000)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.isComplete && audit.validEntries == 5 && audit.notes.isEmpty)
    }

    @Test func aKithlog1ExportStillAuditsWithANote() throws {
        let legacy = try KithLog.parse(Array(try Data(contentsOf: Self.legacyConversationPath)))
        #expect(legacy.format == "kithlog/1")
        let audit = KithLog.audit(legacy, now: 1_800_000_000_000)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.isComplete && audit.validEntries == 5)
        #expect(audit.notes.count == 1 && audit.notes[0].contains("5 version 1 entries"))
    }

    @Test func validVectorsVerifyAndInvalidOnesAreRejected() throws {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.path)) as? [String: Any])
        let valid = try #require(root["valid"] as? [[String: Any]])
        #expect(valid.count == 3)
        for v in valid {
            let object = try SignedObject(envelopeJSON: Array(try #require(v["envelope"] as? String).utf8))
            let m = try Manifest.verify(object, now: 1_764_547_200_001)
            #expect(m.id.did == v["did"] as? String)
            #expect(Hex.encode(object.hash) == v["hash"] as? String)
            #expect(Hex.encode(object.bytes) == v["bytes"] as? String)
        }
        let invalid = try #require(root["invalid"] as? [[String: Any]])
        #expect(invalid.count == 15)
        for v in invalid {
            let text = Array(try #require(v["envelope"] as? String).utf8)
            #expect(throws: SignedObjectError.self, "\(v["name"]!)") {
                try Manifest.verify(SignedObject(envelopeJSON: text))
            }
        }
    }
}
