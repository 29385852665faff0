import KithCrypto
import KithDHT
import Testing

/// Red-team regression tests for the Mainline DHT engine (issue 15): a hostile peer talking to
/// one honest ``DHTNode`` directly, datagrams built by hand, time advanced by hand. A test that
/// fails marks a weakness to fix; one that passes pins a defence that holds.
@Suite("Red team 15: the DHT engine against hostile peers")
struct RedTeam15Tests {
    static let attacker = DHTAddress(ip: [127, 0, 0, 66], port: 4000)!

    // MARK: - Helpers

    /// Sends `query` to `node` from `from`; returns the decoded reply, if any.
    static func ask(_ node: inout DHTNode, _ query: KRPCMessage.Query, from: DHTAddress = attacker,
                    sender: NodeID = NodeID.random(), transaction: [UInt8] = [1, 2], now: UInt64 = 10_000) -> KRPCMessage? {
        let message = KRPCMessage(transaction: transaction, body: .query(sender: sender, query))
        for case .send(let bytes, _) in node.receive(message.encoded(), from: from, now: now) {
            return try? KRPCMessage.decode(bytes)
        }
        return nil
    }

    static func token(_ node: inout DHTNode, target: NodeID, from: DHTAddress = attacker, now: UInt64 = 10_000) -> [UInt8] {
        guard case .response(let response)? = ask(&node, .get(target: target, seq: nil), from: from, now: now)?.body else { return [] }
        return response.token ?? []
    }

    /// A put with a token got (from the same address) for the item's own target.
    static func put(_ node: inout DHTNode, _ item: MutableItem, cas: Int64? = nil, transaction: [UInt8] = [1, 2],
                    from: DHTAddress = attacker) -> KRPCMessage? {
        let token = token(&node, target: item.target, from: from)
        return ask(&node, .put(item, token: token, cas: cas), from: from, transaction: transaction)
    }

    static func isResponse(_ message: KRPCMessage?) -> Bool {
        if case .response? = message?.body { return true }
        return false
    }

    static func errorCode(_ message: KRPCMessage?) -> Int64? {
        if case .error(let code, _)? = message?.body { return code }
        return nil
    }

    /// Runs a lookup on `node`, answering every datagram it sends with `respond` (nil: the
    /// destination stays silent); returns the outcome and every destination it sent to.
    static func drive(_ node: inout DHTNode, _ lookupID: DHTNode.LookupID, _ initial: [DHTNode.Action],
                      respond: (KRPCMessage, DHTAddress) -> [UInt8]?) -> (outcome: DHTNode.Outcome?, sent: [DHTAddress]) {
        var queue = initial
        var sent: [DHTAddress] = []
        var now: UInt64 = 0
        var outcome: DHTNode.Outcome?
        for _ in 0..<400 where outcome == nil {
            var rounds = 0
            while !queue.isEmpty, rounds < 10_000 {
                rounds += 1
                let action = queue.removeFirst()
                switch action {
                case .finished(let id, let result):
                    if id == lookupID { outcome = result }
                case .send(let bytes, let to):
                    sent.append(to)
                    if let message = try? KRPCMessage.decode(bytes), let reply = respond(message, to) {
                        queue += node.receive(reply, from: to, now: now)
                    }
                }
            }
            now += 250
            queue += node.tick(now: now)
        }
        return (outcome, sent)
    }

    /// The attacker's answer to any query: `nodes` all pointing at `addresses`, with ids right
    /// next to `target` (so the lookup wants to ask them first).
    static func poisonedAnswer(to query: KRPCMessage, target: NodeID, addresses: [DHTAddress]) -> [UInt8] {
        var response = KRPCMessage.Response(sender: NodeID.random())
        response.token = [1, 2, 3, 4]
        response.nodes = addresses.enumerated().map { index, address in
            var bytes = target.bytes
            bytes[19] ^= UInt8(index + 1)
            return Contact(id: NodeID(bytes: bytes)!, address: address)
        }
        return KRPCMessage(transaction: query.transaction, body: .response(response)).encoded()
    }

    // MARK: - Lookups as a traffic amplifier

    /// One hostile answer names 50 "close nodes", all at one victim IP (different ports). A
    /// lookup should dedupe by IP (libtorrent's `restrict_search_ips`): at most one or two
    /// datagrams reach the victim, not one per fake entry.
    @Test func aLookupDoesNotAmplifyTrafficToOneVictimIP() {
        var node = DHTNode(now: 0)
        node.setBootstrap([Self.attacker])
        let victimIP: [UInt8] = [127, 0, 0, 99]
        let target = NodeID.random()
        let fakes = (0..<50).map { DHTAddress(ip: victimIP, port: UInt16(2_000 + $0))! }
        let (lookupID, first) = node.findNode(target, now: 0)
        let (outcome, sent) = Self.drive(&node, lookupID, first) { query, to in
            to == Self.attacker ? Self.poisonedAnswer(to: query, target: target, addresses: fakes) : nil
        }
        #expect(outcome != nil, "the lookup ends")
        let toVictim = sent.filter { $0.ip == victimIP }.count
        #expect(toVictim <= 2, "one hostile datagram made the lookup send \(toVictim) queries to one victim IP")
    }

    /// The same with 50 IPs of one /24: a lookup should not ask more than a few nodes of one /24.
    @Test func aLookupDoesNotAmplifyTrafficToOneVictimSlash24() {
        var node = DHTNode(now: 0)
        node.setBootstrap([Self.attacker])
        let target = NodeID.random()
        let fakes = (0..<50).map { DHTAddress(ip: [127, 0, 9, UInt8($0 + 1)], port: 6881)! }
        let (lookupID, first) = node.findNode(target, now: 0)
        let (outcome, sent) = Self.drive(&node, lookupID, first) { query, to in
            to == Self.attacker ? Self.poisonedAnswer(to: query, target: target, addresses: fakes) : nil
        }
        #expect(outcome != nil, "the lookup ends")
        let toVictims = sent.filter { $0.network == [127, 0, 9] }.count
        #expect(toVictims <= 3, "one hostile datagram made the lookup send \(toVictims) queries into one /24")
    }

    /// Answers with a wrong transaction id, or from another address, are ignored; the right
    /// one still counts (defence).
    @Test func answersWithAMismatchedTransactionAreIgnored() throws {
        var node = DHTNode(now: 0)
        node.setBootstrap([Self.attacker])
        let (_, actions) = node.findNode(NodeID.random(), now: 0)
        guard case .send(let bytes, let to)? = actions.first else { Issue.record("no query"); return }
        #expect(to == Self.attacker)
        let query = try KRPCMessage.decode(bytes)
        var response = KRPCMessage.Response(sender: NodeID.random())
        response.nodes = [Contact(id: NodeID.random(), address: DHTAddress(ip: [127, 0, 0, 77], port: 1)!)]
        let wrongTransaction = query.transaction.map { $0 ^ 0xff }
        let wrong = KRPCMessage(transaction: wrongTransaction, body: .response(response)).encoded()
        #expect(node.receive(wrong, from: Self.attacker, now: 10).isEmpty)
        let right = KRPCMessage(transaction: query.transaction, body: .response(response)).encoded()
        #expect(node.receive(right, from: DHTAddress(ip: [127, 0, 0, 67], port: 4000)!, now: 10).isEmpty)
        #expect(node.table.count == 0)
        #expect(!node.receive(right, from: Self.attacker, now: 10).isEmpty, "the real answer is used")
    }

    // MARK: - Routing table poisoning

    /// The table's doc says "one entry per IP address". One IP with 50 ports and 50 made-up ids
    /// must hold one slot, not fill buckets.
    @Test func oneIPWithManyPortsHoldsOneRoutingTableEntry() {
        var node = DHTNode(now: 0)
        for index in 0..<50 {
            _ = Self.ask(&node, .ping, from: DHTAddress(ip: [127, 0, 0, 72], port: UInt16(1_000 + index))!,
                         transaction: [UInt8(index)], now: 60_000 + UInt64(index) * 100)
        }
        let held = node.table.contacts.filter { $0.address.ip == [127, 0, 0, 72] }.count
        #expect(held <= 1, "one IP holds \(held) routing-table entries")
    }

    /// 200 IPs of one /24 with random ids: at most one per bucket (libtorrent's
    /// `restrict_routing_ips`), so a single hosting subnet cannot take over the table.
    @Test func oneSlash24HoldsAtMostOneEntryPerBucket() {
        var node = DHTNode(now: 0)
        for index in 0..<200 {
            _ = Self.ask(&node, .ping, from: DHTAddress(ip: [127, 0, 8, UInt8(index + 1)], port: 6881)!, now: 60_000)
        }
        var perBucket: [Int: Int] = [:]
        for contact in node.table.contacts where contact.address.network == [127, 0, 8] {
            perBucket[node.id.commonPrefixLength(with: contact.id), default: 0] += 1
        }
        let crowded = perBucket.filter { $0.value > 1 }
        #expect(crowded.isEmpty, "one /24 holds \(perBucket.values.reduce(0, +)) entries; per bucket: \(perBucket.sorted { $0.key < $1.key })")
    }

    /// A UDP source address proves nothing: a spoofed query (the "sender" never answered us)
    /// must not make this node hand that address to everyone who asks `find_node` (BEP 5: a
    /// good node is one that answered us; libtorrent answers with confirmed nodes only).
    /// Otherwise the DHT reflects traffic at a victim.
    @Test func aSpoofedQuerierIsNotAdvertisedToOthers() {
        var node = DHTNode(now: 0)
        let target = NodeID.random()
        var close = target.bytes
        close[19] ^= 1
        let victim = DHTAddress(ip: [127, 0, 0, 99], port: 53)!
        _ = Self.ask(&node, .ping, from: victim, sender: NodeID(bytes: close)!, now: 1_000)
        guard case .response(let response)? = Self.ask(&node, .findNode(target: target),
                                                       from: DHTAddress(ip: [127, 0, 0, 70], port: 1)!, now: 2_000)?.body
        else { Issue.record("no answer"); return }
        #expect(!response.nodes.contains { $0.address == victim },
                "an address that only sent a (spoofable) query is advertised: \(response.nodes.map(\.address))")
    }

    // MARK: - Rate limiting

    /// Spoofed queries from 16,384 source addresses fill the per-address limiter; a new honest
    /// address must still be answered (the limiter should evict or fall back, not refuse every
    /// newcomer for a minute).
    @Test func spoofedSourcesCannotLockNewQueriersOut() {
        var node = DHTNode(now: 0)
        let ping = KRPCMessage(transaction: [7], body: .query(sender: NodeID.random(), .ping)).encoded()
        for index in 0..<16_384 {
            let address = DHTAddress(ip: [10, UInt8(index >> 16 & 0xff), UInt8(index >> 8 & 0xff), UInt8(index & 0xff)], port: 6881)!
            _ = node.receive(ping, from: address, now: 1_000)
        }
        let honest = DHTAddress(ip: [127, 0, 0, 5], port: 6881)!
        #expect(Self.isResponse(Self.ask(&node, .ping, from: honest, now: 2_000)),
                "after a burst of spoofed sources, a new address is refused (rate limited: \(node.statistics.rateLimited))")
    }

    // MARK: - Storage

    /// One address with a valid token fills `maxItems` with items under keys it made; an honest
    /// put from another address must still be stored (a per-address quota or eviction).
    @Test func oneAddressCannotFillTheItemStore() {
        var configuration = DHTNode.Configuration()
        configuration.maxItems = 20
        configuration.maxInfoHashes = 20
        var node = DHTNode(configuration: configuration, now: 0)
        for index in 0..<20 {
            let item = MutableItem.signed(value: .integer(Int64(index)), seq: 1, keyPair: Ed25519.KeyPair.generate())
            _ = Self.put(&node, item, cas: nil, transaction: [UInt8(index)])
        }
        for index in 0..<20 {
            let infoHash = NodeID.random()
            let announceToken = Self.token(&node, target: infoHash)
            _ = Self.ask(&node, .announcePeer(infoHash: infoHash, port: 6881, token: announceToken, impliedPort: false),
                         transaction: [UInt8(index)])
        }
        #expect(node.storedItemCount < 20, "one address stored \(node.storedItemCount) of 20")
        let honest = DHTAddress(ip: [127, 0, 0, 5], port: 6881)!
        let item = MutableItem.signed(value: .string("tcp=127.0.0.1:7400"), seq: 1, keyPair: Ed25519.KeyPair.generate())
        let honestToken = Self.token(&node, target: item.target, from: honest)
        let put = Self.ask(&node, .put(item, token: honestToken, cas: nil), from: honest)
        #expect(Self.isResponse(put), "one address filled the store; an honest put got error \(Self.errorCode(put) ?? 0)")
        let honestHash = NodeID.random()
        let hashToken = Self.token(&node, target: honestHash, from: honest)
        let announce = Self.ask(&node, .announcePeer(infoHash: honestHash, port: 7000, token: hashToken, impliedPort: false), from: honest)
        #expect(Self.isResponse(announce), "one address filled the peer store; an honest announce got error \(Self.errorCode(announce) ?? 0)")
    }

    /// Hardening: a write token from a `get` of one target is accepted for a put of any other
    /// target (libtorrent binds the token to the target/info-hash too).
    @Test func aTokenIsBoundToItsTarget() {
        var node = DHTNode(now: 0)
        let item = MutableItem.signed(value: .string("x"), seq: 1, keyPair: Ed25519.KeyPair.generate())
        let tokenForOther = Self.token(&node, target: NodeID.random())
        #expect(Self.errorCode(Self.ask(&node, .put(item, token: tokenForOther, cas: nil))) == KRPCMessage.ErrorCode.protocolError,
                "a token got for another target stores the item")
    }

    /// BEP 44 size limits at their boundaries, equal-seq refresh, CAS and `get` with `seq`
    /// (defences).
    @Test func bep44LimitsSeqAndCASHoldAtTheirBoundaries() {
        var node = DHTNode(now: 0)
        let keyPair = Ed25519.KeyPair.generate()
        // Exactly 1,000 encoded bytes ("996:" + 996) is fine; 1,001 is not.
        let fits = MutableItem.signed(value: .bytes([UInt8](repeating: 7, count: 996)), seq: 1, salt: Array(repeating: 1, count: 64), keyPair: keyPair)
        #expect(fits.value.encoded().count == 1_000)
        #expect(Self.isResponse(Self.put(&node, fits, cas: nil, transaction: [1])))
        let tooBig = MutableItem.signed(value: .bytes([UInt8](repeating: 7, count: 997)), seq: 2, keyPair: keyPair)
        #expect(Self.errorCode(Self.put(&node, tooBig, cas: nil, transaction: [2])) == KRPCMessage.ErrorCode.valueTooBig)
        let saltTooLong = MutableItem.signed(value: .integer(1), seq: 1, salt: Array(repeating: 1, count: 65), keyPair: keyPair)
        #expect(Self.errorCode(Self.put(&node, saltTooLong, cas: nil, transaction: [3])) == KRPCMessage.ErrorCode.saltTooBig)
        let negative = MutableItem.signed(value: .integer(1), seq: -1, keyPair: keyPair)
        #expect(!Self.isResponse(Self.put(&node, negative, cas: nil, transaction: [4])))

        let item = MutableItem.signed(value: .string("a"), seq: 10, keyPair: keyPair)
        #expect(Self.isResponse(Self.put(&node, item, cas: nil, transaction: [5])))
        #expect(Self.isResponse(Self.put(&node, item, cas: nil, transaction: [6])), "the same item again refreshes it")
        let sameSeqOther = MutableItem.signed(value: .string("b"), seq: 10, keyPair: keyPair)
        #expect(Self.errorCode(Self.put(&node, sameSeqOther, cas: nil, transaction: [7])) == KRPCMessage.ErrorCode.seqTooLow)
        let next = MutableItem.signed(value: .string("c"), seq: 11, keyPair: keyPair)
        #expect(Self.errorCode(Self.put(&node, next, cas: 9, transaction: [8])) == KRPCMessage.ErrorCode.casMismatch)
        let lowerWithCAS = MutableItem.signed(value: .string("d"), seq: 9, keyPair: keyPair)
        #expect(Self.errorCode(Self.put(&node, lowerWithCAS, cas: 10, transaction: [9])) == KRPCMessage.ErrorCode.seqTooLow,
                "a matching CAS does not let an older seq in")
        #expect(Self.isResponse(Self.put(&node, next, cas: 10, transaction: [10])))

        guard case .response(let older)? = Self.ask(&node, .get(target: item.target, seq: 10), transaction: [11])?.body,
              case .response(let same)? = Self.ask(&node, .get(target: item.target, seq: 11), transaction: [12])?.body,
              case .response(let plain)? = Self.ask(&node, .get(target: item.target, seq: nil), transaction: [13])?.body
        else { Issue.record("no get answers"); return }
        #expect(older.item?.seq == 11 && older.item?.value == .string("c"))
        #expect(same.item == nil && same.seq == 11)
        #expect(plain.item?.signature == next.signature)
    }

    // MARK: - A friend holding the record key

    /// A friend holds the record key, so it can sign BEP 44 items under the publishing key. It
    /// cannot forge the person's endpoints (defence), nor move an old record to a new seq.
    @Test func aFriendCannotForgeOrReplayTheFriendsRecord() throws {
        let person = Ed25519.KeyPair.generate(), friend = Ed25519.KeyPair.generate()
        let recordKey = SecretBytes.random(count: FriendsRecord.keyLength)
        let publisher = try FriendsRecord.publishingKey(recordKey: recordKey)
        let personID = try Ed25519.PublicKey(bytes: person.publicKey.bytes)
        let real = try FriendsRecord.item(endpoints: NodeEndpoints(tcp: ["127.0.0.1:7400"]), identity: person,
                                          recordKey: recordKey, microseconds: 1_000)
        // The friend's own endpoints, inner-signed by the friend, named as the person: refused.
        let own = try FriendsRecord.item(endpoints: NodeEndpoints(tcp: ["6.6.6.6:1"]), identity: friend, recordKey: recordKey, microseconds: 2_000)
        #expect(throws: FriendsRecord.RecordError.self) { try FriendsRecord.endpoints(from: own, readKey: try! FriendsRecord.readKey(recordKey: recordKey), identity: personID) }
        // The person's sealed payload re-signed at a higher seq: the inner signature covers seq.
        let moved = MutableItem.signed(value: real.value, seq: 3_000, keyPair: publisher)
        #expect(throws: FriendsRecord.RecordError.badSignature) { try FriendsRecord.endpoints(from: moved, readKey: try! FriendsRecord.readKey(recordKey: recordKey), identity: personID) }
        // After the key changes (unfriending), the old record reads nothing under the new key.
        let newKey = SecretBytes.random(count: FriendsRecord.keyLength)
        #expect(throws: FriendsRecord.RecordError.self) { try FriendsRecord.endpoints(from: real, readKey: try! FriendsRecord.readKey(recordKey: newKey), identity: personID) }
        #expect(try FriendsRecord.endpoints(from: real, readKey: try! FriendsRecord.readKey(recordKey: recordKey), identity: personID).tcp == ["127.0.0.1:7400"])
    }

    /// A friend could censor the record if it held the record key (junk under the publishing
    /// key at seq Int64.max would hide the person's record). Friends and invite holders get
    /// only the read key: it reads the record, and nothing in it derives the signing key.
    @Test func aFriendCannotCensorTheFriendsRecord() throws {
        var net = SimulatedDHT(count: 20)
        net.joinAll()
        let person = Ed25519.KeyPair.generate()
        let recordKey = SecretBytes.random(count: FriendsRecord.keyLength)
        let publisher = try FriendsRecord.publishingKey(recordKey: recordKey)
        let readKey = try FriendsRecord.readKey(recordKey: recordKey)
        // What a friend holds: 64 bytes, the publishing public key and the encryption key.
        var wire = readKey.bytes()
        #expect(wire.count == 64 && Array(wire.prefix(32)) == publisher.publicKey.bytes)
        let seed = publisher.seed().withUnsafeBytes { Array($0) }
        #expect(!wire.windows(ofCount: 32).contains { Array($0) == seed }, "the signing seed is not in the read key")
        let recordBytes = recordKey.withUnsafeBytes { Array($0) }
        #expect(!wire.windows(ofCount: 32).contains { Array($0) == recordBytes }, "the record key is not in the read key")
        let friendsCopy = try #require(FriendsRecord.ReadKey(bytes: &wire))
        let personID = try Ed25519.PublicKey(bytes: person.publicKey.bytes)
        let real = try FriendsRecord.item(endpoints: NodeEndpoints(tcp: ["127.0.0.1:7400"]), identity: person,
                                          recordKey: recordKey, microseconds: 1_700_000_000_000_000)
        _ = net.run(SimulatedDHT.address(3)) { node, now in node.put(real, now: now) }
        // The best a friend can do is sign junk with some key of its own: storing nodes check
        // the signature against the publishing key, so it never replaces the record.
        let mallory = Ed25519.KeyPair.generate()
        let junk = MutableItem.signed(value: .bytes(Random.bytes(200)), seq: .max, keyPair: mallory)
        let forged = MutableItem(key: publisher.publicKey.bytes, salt: [], seq: .max, value: junk.value, signature: junk.signature)
        #expect(!forged.isValid)
        _ = net.run(SimulatedDHT.address(4)) { node, now in node.put(forged, now: now) }
        let got = net.run(SimulatedDHT.address(9)) { node, now in node.get(key: friendsCopy.publishingKey, now: now) }
        guard case .item(let found, _)? = got, let found else { Issue.record("nothing found"); return }
        #expect(try FriendsRecord.endpoints(from: found, readKey: friendsCopy, identity: personID).tcp == ["127.0.0.1:7400"])
    }

    // MARK: - Bencode

    @Test func bencodeIsStrictAndBounded() {
        func decodes(_ text: String) -> Bencode? { try? Bencode.decode(Array(text.utf8)) }
        #expect(decodes("i9223372036854775807e") == .integer(.max))
        #expect(decodes("i9223372036854775808e") == nil, "beyond Int64")
        #expect(decodes("i99999999999999999999e") == nil)
        #expect(decodes("i-0e") == nil && decodes("i03e") == nil && decodes("ie") == nil && decodes("i-e") == nil)
        #expect(decodes("03:abc") == nil && decodes("-1:a") == nil && decodes("99999999999999999999:a") == nil)
        #expect(decodes("9223372036854775807:a") == nil)
        #expect(decodes("d1:bi1e1:ai2ee") == nil, "unsorted keys")
        #expect(decodes("d1:ai1e1:ai2ee") == nil, "duplicate keys")
        #expect(decodes("di1ei2ee") == nil, "integer key")
        #expect(decodes("i1ei2e") == nil, "trailing bytes")
        #expect(decodes(String(repeating: "l", count: 9) + String(repeating: "e", count: 9)) != nil)
        #expect(decodes(String(repeating: "l", count: 10) + String(repeating: "e", count: 10)) == nil, "too deep")
        #expect(decodes("l" + String(repeating: "i1e", count: 600) + "e") == nil, "too many items")
        #expect(decodes(String(repeating: "l", count: 1_000)) == nil)
    }

    /// Int64.min is a canonical integer within Int64 (the decoder's own contract) and should
    /// round-trip (minor: it is refused because the magnitude check stops at Int64.max).
    @Test func bencodeAcceptsInt64Min() {
        let encoded = Bencode.integer(.min).encoded()
        #expect(String(decoding: encoded, as: UTF8.self) == "i-9223372036854775808e")
        #expect((try? Bencode.decode(encoded)) == .integer(.min), "what the encoder writes, the decoder refuses")
    }

    // MARK: - DNS compression pointers

    static func header(answers: Int) -> [UInt8] { [0, 0, 0x84, 0, 0, 0, 0, UInt8(answers), 0, 0, 0, 0] }

    /// A first record whose name is the root and whose RDATA holds `rdata` (at offset 23).
    static func carrier(_ rdata: [UInt8]) -> [UInt8] {
        [0, 0, 16, 0, 1, 0, 0, 0, 0, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xff)] + rdata
    }

    static let tail: [UInt8] = [0, 16, 0, 1, 0, 0, 0, 0, 0, 0]

    @Test func dnsCompressionPointerTricksAreRefused() {
        // A pointer to itself, and one forwards.
        #expect(throws: DNSMessage.DecodingError.badName) { try DNSMessage.decode(Self.header(answers: 1) + [0xC0, 12] + Self.tail) }
        #expect(throws: DNSMessage.DecodingError.badName) { try DNSMessage.decode(Self.header(answers: 1) + [0xC0, 40] + Self.tail + Array(repeating: 0, count: 40)) }
        // A pointer cut off at the end.
        #expect(throws: DNSMessage.DecodingError.truncated) { try DNSMessage.decode(Self.header(answers: 1) + [0xC0]) }
        // A chain of 40 backward pointers (each to the previous), then a name pointing at its end.
        var chain: [UInt8] = []
        for index in 0..<40 {
            let target = index == 0 ? 12 : 23 + 2 * (index - 1)
            chain += [0xC0 | UInt8(target >> 8), UInt8(target & 0xff)]
        }
        let last = 23 + 2 * 39
        #expect(throws: DNSMessage.DecodingError.badName) {
            try DNSMessage.decode(Self.header(answers: 2) + Self.carrier(chain) + [0xC0 | UInt8(last >> 8), UInt8(last & 0xff)] + Self.tail)
        }
        // Labels joined by pointers into a name longer than 255 bytes.
        var labels: [UInt8] = []
        var previous = 12
        for _ in 0..<5 {
            let start = 23 + labels.count
            labels += [63] + Array(repeating: UInt8(ascii: "a"), count: 63) + [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xff)]
            previous = start
        }
        #expect(throws: DNSMessage.DecodingError.badName) {
            try DNSMessage.decode(Self.header(answers: 2) + Self.carrier(labels) + [0xC0 | UInt8(previous >> 8), UInt8(previous & 0xff)] + Self.tail)
        }
        // Reserved label types (0x40, 0x80) and a record longer than the message.
        #expect(throws: DNSMessage.DecodingError.badName) { try DNSMessage.decode(Self.header(answers: 1) + [0x41, 0x41, 0] + Self.tail) }
        #expect(throws: DNSMessage.DecodingError.truncated) { try DNSMessage.decode(Self.header(answers: 1) + [0, 0, 16, 0, 1, 0, 0, 0, 0, 0xff, 0xff]) }
        #expect(throws: DNSMessage.DecodingError.tooManyRecords) { try DNSMessage.decode([0, 0, 0x84, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]) }
    }

    // MARK: - z-base-32 and endpoints from TXT strings

    @Test func zBase32RefusesNonCanonicalText() {
        let key = Random.bytes(32), text = ZBase32.encode(key)
        #expect(ZBase32.decode(text, length: 32) == key)
        #expect(ZBase32.decode(text + "y", length: 32) == nil, "a trailing zero symbol")
        #expect(ZBase32.decode(" " + String(text.dropFirst()), length: 32) == nil)
        #expect(ZBase32.decode(String(text.dropLast()) + "é", length: 32) == nil)
        #expect(ZBase32.decode(String(text.dropLast()) + "\u{0}", length: 32) == nil)
    }

    @Test func hostileTXTStringsYieldNoEndpoints() {
        let hostile = [
            "tcp=127.0.0.1\u{0}:7400", "tcp=evil\nhost:1", "tcp=\u{1b}[31m:80", "tcp=a b:80", "tcp=:80", "tcp=h:",
            "tcp=" + String(repeating: "a", count: 10_000) + ":80", "tcp=h:-1", "tcp=h:65536", "tcp=h:0", "TCP=h:1",
            "tcp=hé:80", "tcp=h=i:80", "=h:80", "tcp", "",
        ]
        #expect(NodeEndpoints(txtStrings: hostile) == NodeEndpoints())
        let many = (0..<1_000).map { "tcp=10.0.0.\($0 % 250):\($0 + 1)" } + (0..<1_000).map { "udp=h:\($0 + 1)" }
        let kept = NodeEndpoints(txtStrings: many)
        #expect(kept.tcp.count == 8 && kept.udp.count == 8)
    }

    /// Minor: a port must be written canonically; `+80` and `0080` are the same port as `80`
    /// under other spellings (duplicates slip past the dedupe, and other parsers disagree).
    @Test func txtPortsMustBeCanonical() {
        #expect(NodeEndpoints(txtStrings: ["tcp=h:+80", "tcp=h:0080"]) == NodeEndpoints(),
                "non-canonical ports kept: \(NodeEndpoints(txtStrings: ["tcp=h:+80", "tcp=h:0080"]).tcp)")
    }
}
