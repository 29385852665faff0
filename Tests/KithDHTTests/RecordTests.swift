import KithCrypto
import KithDHT
import KithTestSupport
import Testing

@Suite("DHT records: pkarr DNS, z-base-32 and the friends record")
struct RecordTests {
    @Test func zBase32RoundTripsAndIsStrict() {
        // The alphabet's first and last symbols, and bits carried across bytes.
        #expect(ZBase32.encode([0x00, 0xff]) == "yd9o")
        #expect(ZBase32.encode([]) == "")
        for length in [1, 5, 20, 32] {
            let bytes = Random.bytes(length)
            let text = ZBase32.encode(bytes)
            #expect(text.count == (length * 8 + 4) / 5)
            #expect(ZBase32.decode(text, length: length) == bytes)
        }
        let key = Random.bytes(32), text = ZBase32.encode(key)
        #expect(ZBase32.decode(text.uppercased(), length: 32) == nil, "upper case is not z-base-32")
        #expect(ZBase32.decode(String(text.dropLast()), length: 32) == nil)
        #expect(ZBase32.decode(String(text.dropLast()) + "l", length: 32) == nil, "l is not in the alphabet")
        // For 32 bytes the last symbol carries 1 data bit and 4 padding bits: "b" (1) sets padding.
        #expect(ZBase32.decode(String(text.dropLast()) + "b", length: 32) == nil)
    }

    @Test func aPublicRecordIsAPkarrPacketWithOneTXTStringPerEndpoint() throws {
        let person = Ed25519.KeyPair.generate()
        let endpoints = NodeEndpoints(tcp: ["127.0.0.1:7400", "[::1]:7400"], udp: ["127.0.0.1:7401"])
        let item = try PublicRecord.item(endpoints: endpoints, keyPair: person, microseconds: 1_700_000_000_000_000)
        #expect(item.isValid && item.salt.isEmpty && item.key == person.publicKey.bytes)
        #expect(item.target == NodeID.sha1(person.publicKey.bytes))
        let dns = try #require(item.value.bytesValue)
        let message = try DNSMessage.decode(dns)
        #expect(message.answers.count == 3)
        #expect(message.answers.allSatisfy { $0.name == ["_kith", ZBase32.encode(person.publicKey.bytes)] && $0.ttl == 300 && $0.type == 16 })
        #expect(message.answers.map { $0.txtStrings ?? [] } == [["tcp=127.0.0.1:7400"], ["tcp=[::1]:7400"], ["udp=127.0.0.1:7401"]])
        // Names after the first are compression pointers to it (pkarr packets should be compressed).
        #expect(dns.count < 12 + 3 * (59 + 10) + 60)
        #expect(try PublicRecord.endpoints(from: item) == endpoints)
        // Eight endpoints of the longest IPv6 form still fit in 1,000 bytes.
        let many = NodeEndpoints(tcp: (0..<8).map { "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff\($0)f]:65535" })
        #expect(try PublicRecord.item(endpoints: many, keyPair: person, microseconds: 1).value.encoded().count <= 1_000)
    }

    @Test func aPublicRecordIgnoresRecordsOfOtherNamesAndMalformedEndpoints() throws {
        let person = Ed25519.KeyPair.generate(), other = Ed25519.KeyPair.generate()
        let origin = ZBase32.encode(person.publicKey.bytes)
        let message = DNSMessage(answers: [
            .txt(name: ["_kith", ZBase32.encode(other.publicKey.bytes)], ttl: 300, strings: ["tcp=6.6.6.6:1"]),
            .txt(name: ["_other", origin], ttl: 300, strings: ["tcp=6.6.6.6:2"]),
            .txt(name: ["_kith", origin], ttl: 300, strings: ["tcp=no-port", "tcp=1.2.3.4:0", "tcp=1.2.3.4:99999", "ftp=1.2.3.4:1", "tcp=1.2.3.4:5"]),
        ])
        let item = MutableItem.signed(value: .bytes(message.encoded()), seq: 1, keyPair: person)
        #expect(try PublicRecord.endpoints(from: item) == NodeEndpoints(tcp: ["1.2.3.4:5"]))
        // Signed by another key than it claims: refused.
        let forged = MutableItem(key: person.publicKey.bytes, salt: [], seq: 2, value: item.value, signature: other.sign([1]))
        #expect(throws: PublicRecord.RecordError.badSignature) { try PublicRecord.endpoints(from: forged) }
    }

    @Test(arguments: [
        [UInt8](),                                                       // empty
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0],                          // an answer that is not there
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 12],                // a pointer to itself
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 40],                // a pointer forwards
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 63],                      // a label longer than the message
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0],                 // reserved label type
        [0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0],                          // a query, not a response
        [0, 0, 0x84, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0],                    // 65,535 answers claimed
        [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 1, 0, 0, 1, 44, 0xff, 0xff, 1], // data past the end
    ])
    func hostileDNSMessagesAreRefused(_ bytes: [UInt8]) {
        #expect(throws: DNSMessage.DecodingError.self) { try DNSMessage.decode(bytes) }
    }

    @Test func aFriendsRecordIsReadableOnlyWithTheKeyAndUnforgeableByFriends() throws {
        let ben = Ed25519.KeyPair.generate(), ada = Ed25519.KeyPair.generate()
        let key = SecretBytes.random(count: 32), wrong = SecretBytes.random(count: 32)
        let endpoints = NodeEndpoints(tcp: ["127.0.0.1:7400"])
        let item = try FriendsRecord.item(endpoints: endpoints, identity: ben, recordKey: key, microseconds: 5_000_000)
        #expect(item.isValid)
        // Unlinkable: neither the key nor the target is Ben's, and his key is not in the bytes.
        #expect(item.key != ben.publicKey.bytes && item.target != NodeID.sha1(ben.publicKey.bytes))
        let encoded = item.value.encoded()
        #expect(!encoded.windows(ofCount: 32).contains { Array($0) == ben.publicKey.bytes })
        #expect(!String(decoding: encoded, as: UTF8.self).contains(ZBase32.encode(ben.publicKey.bytes)))
        #expect(item.value.encoded().count < 400)
        #expect(try FriendsRecord.endpoints(from: item, readKey: try! FriendsRecord.readKey(recordKey: key), identity: ben.publicKey) == endpoints)
        #expect(throws: FriendsRecord.RecordError.self) { try FriendsRecord.endpoints(from: item, readKey: try! FriendsRecord.readKey(recordKey: wrong), identity: ben.publicKey) }
        // A friend holds the record key too, but cannot publish in Ben's name: its own identity
        // inside is refused, and Ben's identity needs Ben's signature.
        let fake = try FriendsRecord.item(endpoints: NodeEndpoints(tcp: ["6.6.6.6:1"]), identity: ada, recordKey: key, microseconds: 6_000_000)
        #expect(throws: FriendsRecord.RecordError.wrongIdentity) { try FriendsRecord.endpoints(from: fake, readKey: try! FriendsRecord.readKey(recordKey: key), identity: ben.publicKey) }
        // Re-wrapping Ben's old inner payload at a higher seq breaks the inner signature (it covers seq).
        #expect(throws: FriendsRecord.RecordError.self) {
            let publisher = try FriendsRecord.publishingKey(recordKey: key)
            let replay = MutableItem.signed(value: item.value, seq: item.seq + 1, keyPair: publisher)
            _ = try FriendsRecord.endpoints(from: replay, readKey: try! FriendsRecord.readKey(recordKey: key), identity: ben.publicKey)
        }
    }
}

extension Array {
    func windows(ofCount count: Int) -> [ArraySlice<Element>] {
        guard self.count >= count else { return [] }
        return (0...(self.count - count)).map { self[$0..<$0 + count] }
    }
}
