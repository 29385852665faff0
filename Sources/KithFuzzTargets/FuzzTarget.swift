import KithCBOR
import KithCrypto
import KithDHT
import KithModel
import KithProtocol

/// One decoder that reads bytes from the network or from files, driven with arbitrary input.
/// Each target checks properties that must hold for every input (not just "no crash"): a
/// violation stops the process with a message, which libFuzzer reports as a crash.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The strict CBOR decoder: whatever it accepts must re-encode to exactly the same bytes.
    case cbor
    /// Framing and the session state machine (Noise XX, proofs, hello) on both roles.
    case session
    /// The Noise handshake reader on every message position.
    case noise
    /// Signed UDP datagrams through the decoder and the filter.
    case datagram
    /// Every signed-object decoder: wire value, envelope JSON, manifest, connection record,
    /// conversation header/entry/seal, identity proof, and kithlog files through the auditor.
    case signed
    /// The human-authored identity.yaml loader, then the canonical model and its commitment.
    case identityYAML = "identity-yaml"
    /// Application messages (2-byte length-prefixed CBOR maps) through the strict
    /// ``PeerMessage`` decoder, and every conversation message into a ``ConversationEngine``.
    case conversation
    /// Mainline DHT datagrams: strict bencode (what it accepts re-encodes to the same bytes),
    /// KRPC messages (re-encode and decode to the same message), a ``DHTNode`` answering them,
    /// and DNS messages of pkarr records.
    case dht

    /// Runs the target on one input.
    public func run(_ input: [UInt8]) {
        switch self {
        case .cbor: Self.cbor(input)
        case .session: Self.session(input)
        case .noise: Self.noise(input)
        case .datagram: Self.datagram(input)
        case .signed: Self.signed(input)
        case .identityYAML: Self.identityYAML(input)
        case .conversation: Self.conversation(input)
        case .dht: Self.dht(input)
        }
    }

    static func dht(_ input: [UInt8]) {
        if let value = try? Bencode.decode(input) {
            require(value.encoded() == input, "accepted bencode does not re-encode to the same bytes")
        }
        if let message = try? KRPCMessage.decode(input) {
            let again = try? KRPCMessage.decode(message.encoded())
            require(again == message, "a KRPC message does not survive re-encoding")
        }
        var node = DHTNode(id: NodeID(bytes: [UInt8](repeating: 7, count: 20))!, now: 0)
        let from = DHTAddress(ip: [127, 0, 0, 9], port: 6881)!
        let actions = node.receive(input, from: from, now: 1_000)
        // At most the answer and a ping back (a new querier enters the table only by answering it).
        require(actions.count <= 2, "one datagram got more than an answer and a ping")
        for case .send(let bytes, let to) in actions {
            require(to == from && bytes.count <= 1_500, "an answer goes elsewhere or does not fit a datagram")
        }
        require(node.storedItemCount <= 1, "one datagram stored more than one item")
        if let message = try? DNSMessage.decode(input) {
            require(message.answers.count <= 64, "more DNS answers than the bound")
        }
    }

    /// Stops the process when a property fails.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz property violated: \(message())") }
    }

    static func cbor(_ input: [UInt8]) {
        guard let value = try? CBOR.decode(input, limits: CBORLimits(maxInputSize: 1 << 16, maxDepth: 16)) else { return }
        require(value.encoded() == input, "accepted CBOR does not re-encode to the same bytes")
        require(value.encodedCount == input.count, "encodedCount disagrees with the encoding")
        if case .map = value, let map = try? CBOR.decodeTextKeyedMap(input) {
            require(CBOR.textMap(map).encoded() == input, "a text-keyed map does not re-encode to the same bytes")
        }
    }

    static func session(_ input: [UInt8]) {
        let now: UInt64 = 1_800_000_000_000
        // A responder reading a connection; the input is split into reads by its first byte.
        let chunk = max(1, Int(input.first ?? 1))
        var responder = SecureSession(role: .responder, credentials: Fixtures.responder)
        _ = responder.start()
        var offset = 0
        while offset < input.count && !responder.isClosed {
            let end = min(input.count, offset + chunk)
            let events = responder.receive(input[offset..<end], now: now)
            require(!events.contains { if case .established = $0 { true } else { false } },
                    "garbage established a session without the initiator's keys")
            offset = end
        }
        // An initiator that sent message 1 and reads the input as the responder's reply.
        var initiator = SecureSession(role: .initiator(expected: Fixtures.responder.identity), credentials: Fixtures.initiator)
        _ = initiator.start()
        let events = initiator.receive(input, now: now)
        require(!events.contains { if case .established = $0 { true } else { false } },
                "garbage established a session without the responder's keys")
        // Frame decoding on its own: whatever frames come out re-frame to the consumed prefix.
        var frames = FrameDecoder()
        frames.append(input)
        var reframed: [UInt8] = []
        while let frame = try? frames.next() { reframed += FrameDecoder.frame(frame) }
        require(Array(input.prefix(reframed.count)) == reframed, "frames do not re-frame to the input")
    }

    static func noise(_ input: [UInt8]) {
        // Message 1 at a responder, message 2 at an initiator, message 3 at a responder.
        var r1 = try! NoiseHandshake(pattern: .XX, initiator: false, prologue: [], localStatic: Fixtures.staticB)
        _ = try? r1.readMessage(input)
        var i2 = try! NoiseHandshake(pattern: .XX, initiator: true, prologue: [], localStatic: Fixtures.staticA)
        _ = try! i2.writeMessage()
        require((try? i2.readMessage(input)) == nil || input.count >= 32 + 48 + 16, "message 2 accepted with too few bytes")
        var i3 = try! NoiseHandshake(pattern: .XX, initiator: true, prologue: [], localStatic: Fixtures.staticA)
        var r3 = try! NoiseHandshake(pattern: .XX, initiator: false, prologue: [], localStatic: Fixtures.staticB)
        _ = try! r3.readMessage(try! i3.writeMessage())
        _ = try! i3.readMessage(try! r3.writeMessage())
        require((try? r3.readMessage(input)) == nil, "a forged message 3 was accepted")
    }

    static func datagram(_ input: [UInt8]) {
        if let datagram = try? Datagram.decode(input) {
            // Only a signature by `from` gets here; the fuzzer cannot forge one.
            require(datagram.packet(signedWith: Fixtures.signerA).count > 0, "re-signing failed")
        }
        var filter = DatagramFilter(network: .main, me: Fixtures.responder.identity)
        _ = filter.accept(input, from: "127.0.0.1:9", now: 1_800_000_000_000)
        _ = filter.accept(input, from: "127.0.0.1:9", now: 1_800_000_000_000)
    }

    static func signed(_ input: [UInt8]) {
        var objects: [SignedObject] = []
        if let object = try? SignedObject(envelopeJSON: input) {
            require(object.envelopeJSON == String(decoding: input, as: UTF8.self)
                     || object.envelopeJSON + "\n" == String(decoding: input, as: UTF8.self),
                     "an accepted envelope is not in canonical form")
            objects.append(object)
        }
        if let value = try? CBOR.decode(input, limits: CBORLimits(maxInputSize: 1 << 16, maxDepth: 8)),
           let object = try? SignedObject(wireValue: value) {
            objects.append(object)
        }
        for object in objects {
            _ = try? Manifest.verify(object)
            _ = try? ConnectionRecord.verify(object)
            _ = try? ConversationHeader.verify(object)
            _ = try? ConversationEntry.verify(object)
            _ = try? ConversationSeal.verify(object)
            _ = try? ConversationEntry.decode(object)
            _ = try? VerifiedObject.verify(object, now: 1_800_000_000_000)
        }
        // The input as a raw payload under every type: the payload decoders run before the
        // signature check (an attacker without keys reaches exactly this far), and an all-zero
        // signature must never verify.
        for type in ["manifest", "connection", "revocation", "conv-header", "conv-entry", "conv-seal"] {
            guard let raw = try? SignedObject(type: type, bytes: input, sig: [UInt8](repeating: 0, count: 64)) else { continue }
            require((try? Manifest.verify(raw)) == nil, "a manifest verified with a zero signature")
            require((try? ConnectionRecord.verify(raw)) == nil, "a connection record verified with a zero signature")
            require((try? ConversationHeader.verify(raw)) == nil, "a header verified with a zero signature")
            require((try? ConversationEntry.verify(raw)) == nil, "an entry verified with a zero signature")
            require((try? ConversationSeal.verify(raw)) == nil, "a seal verified with a zero signature")
            require((try? VerifiedObject.verify(raw)) == nil, "an object verified with a zero signature")
            _ = try? ConversationEntry.decode(raw)
        }
        _ = try? IdentityProof(decoding: input, staticKey: Fixtures.staticA.publicKey)
        if let records = try? KithLog.parse(input) {
            let result = KithLog.audit(records)
            require(result.validEntries <= records.entries.count, "the audit counted more valid entries than the file holds")
        }
    }

    static func identityYAML(_ input: [UInt8]) {
        guard let text = String(validating: input, as: UTF8.self),
              let model = try? IdentityModel(yaml: text) else { return }
        let encoded = model.canonicalCBOR.encoded()
        require((try? CBOR.decode(encoded)) != nil, "the canonical model is not valid CBOR")
        _ = model.commitment(salt: Fixtures.salt)
    }

    /// Splits the input into 2-byte length-prefixed chunks (how the seeds are written).
    static func chunks(_ input: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = [], i = 0
        while i + 2 <= input.count {
            let n = Int(input[i]) << 8 | Int(input[i + 1])
            i += 2
            out.append(Array(input[i..<min(input.count, i + n)]))
            i += n
        }
        return out
    }

    static func conversation(_ input: [UInt8]) {
        // Node B (the responder's key) hears everything from A and stores what its engine asks.
        var engine = ConversationEngine(key: Fixtures.signerB, network: .main, policy: IdentityModel.Policy(),
                                        manifest: Fixtures.responderManifest)
        let peer = Identity(publicKey: Fixtures.signerA.publicKey)
        var stored: [[UInt8]: ConversationLog] = [:]
        var now: UInt64 = 1_800_000_000_000
        for chunk in chunks(input) {
            guard let item = try? CBOR.decode(chunk, limits: CBORLimits(maxInputSize: 1 << 16, maxDepth: 16)),
                  let message = try? PeerMessage(item) else { continue }
            require(message.encoded() == chunk, "an accepted message does not re-encode to the same bytes")
            guard case .conversation(let m) = message else { continue }
            now += 1
            var actions = engine.receive(m, from: peer, now: now, standing: PeerStanding(isFriend: true, hops: 1, equivocating: false,
                                                                                        conversationsToday: 0))
            var turns = 0
            while !actions.isEmpty {
                var next: [ConversationAction] = []
                for action in actions {
                    switch action {
                    case .persistConversation(let log):
                        require(stored[log.id] == nil, "a conversation was persisted twice")
                        guard var copy = try? ConversationLog(header: log.headerObject),
                              log.manifests.allSatisfy({ (try? copy.addManifest($0.object)) != nil }),
                              (try? copy.append(log.entries[0].object)) != nil else {
                            return require(false, "an invalid conversation was persisted")
                        }
                        stored[log.id] = copy
                    case .persistEntry(let conv, let seq, let object, let manifest, _):
                        require(stored[conv]?.nextSeq == seq, "an entry was persisted out of order")
                        if let manifest { require((try? stored[conv]?.addManifest(manifest)) != nil, "an invalid manifest was persisted") }
                        require((try? stored[conv]?.append(object)) != nil, "an entry that breaks the log was persisted")
                    case .persistSeal(let conv, _, let object, _):
                        require((try? stored[conv]?.addSeal(object)) != nil, "an invalid seal was persisted")
                    case .send(let to, let reply):
                        require(to == peer, "a message went to a third party")
                        if case .ack(let conv, let seq) = reply {
                            require(UInt64(stored[conv]?.count ?? 0) >= seq, "an entry was acknowledged before it was stored")
                        }
                    case .requestTurn(let conv) where turns < 8:
                        turns += 1
                        next += engine.turnProduced(conv, ProducedTurn(kind: turns % 3 == 0 ? .propose : .say, text: "turn", producer: .ai(engine: "test")), now: now)
                    case .requestTurn, .report, .proposalAccepted, .replayCompleted:
                        break
                    }
                }
                actions = next
            }
        }
    }
}
