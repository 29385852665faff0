import KithCrypto
import KithDHT
import Testing

@Suite("Relays in DHT records")
struct RelayRecordTests {
    static let relay = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK@198.18.0.10:7400"

    @Test func relaysRoundTripThroughTXTStringsAndTheSignedRecord() throws {
        let endpoints = NodeEndpoints(tcp: ["198.18.0.21:7400"], relays: [Self.relay])
        #expect(endpoints.txtStrings == ["tcp=198.18.0.21:7400", "relay=\(Self.relay)"])
        #expect(NodeEndpoints(txtStrings: endpoints.txtStrings) == endpoints)
        let keys = Ed25519.KeyPair.generate()
        let item = try PublicRecord.item(endpoints: endpoints, keyPair: keys, microseconds: 1)
        #expect(try PublicRecord.endpoints(from: item) == endpoints)
    }

    @Test func hostileRelayStringsAreSkippedAndBounded() {
        let hostile = ["relay=did:key:z6Mk", "relay=did:key:z6Mk@", "relay=did:web:x@1.2.3.4:1", "relay=@1.2.3.4:1",
                       "relay=did:key:z6Mk!x@1.2.3.4:1", "relay=did:key:z" + String(repeating: "a", count: 200) + "@1.2.3.4:1",
                       "relay=did:key:z6Mk@1.2.3.4:0", "relay=did:key:z6Mk@h\nx:1", "RELAY=did:key:z6Mk@1.2.3.4:1"]
        #expect(NodeEndpoints(txtStrings: hostile) == NodeEndpoints())
        let many = (0..<50).map { "relay=did:key:z6Mk\($0)@10.0.0.1:\($0 + 1)" }
        #expect(NodeEndpoints(txtStrings: many).relays.count == NodeEndpoints.maxRelays)
    }
}
