public import KithCrypto

/// Where a Kith node can be reached: `HOST:PORT` endpoints by transport.
public struct NodeEndpoints: Sendable, Equatable, Codable {
    /// TCP endpoints (sessions).
    public var tcp: [String]
    /// UDP endpoints (announces).
    public var udp: [String]
    /// Relays that reach the node behind its NAT: `did:key:…@HOST:PORT` (a friend's node that
    /// joins circuits to it, and where that relay listens).
    public var relays: [String]

    public init(tcp: [String] = [], udp: [String] = [], relays: [String] = []) {
        self.tcp = tcp
        self.udp = udp
        self.relays = relays
    }

    /// The strings of the `_kith` TXT records: `tcp=HOST:PORT`, `udp=HOST:PORT`,
    /// `relay=did:key:…@HOST:PORT`.
    public var txtStrings: [String] { tcp.map { "tcp=" + $0 } + udp.map { "udp=" + $0 } + relays.map { "relay=" + $0 } }

    /// Most relays a record lists.
    public static let maxRelays = 4

    /// Endpoints from `_kith` TXT strings; unknown or malformed strings are skipped, at most 8
    /// of each transport and 4 relays kept.
    public init(txtStrings: [String]) {
        var tcp: [String] = [], udp: [String] = [], relays: [String] = []
        for string in txtStrings {
            let parts = string.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "tcp" where tcp.count < 8 && !tcp.contains(parts[1]) && Self.isHostPort(parts[1]): tcp.append(parts[1])
            case "udp" where udp.count < 8 && !udp.contains(parts[1]) && Self.isHostPort(parts[1]): udp.append(parts[1])
            case "relay" where relays.count < Self.maxRelays && !relays.contains(parts[1]) && Self.isRelay(parts[1]): relays.append(parts[1])
            default: continue
            }
        }
        self.init(tcp: tcp, udp: udp, relays: relays)
    }

    /// `did:key:z…@HOST:PORT` with a did of base58 characters (checked fully by the reader).
    static func isRelay(_ text: String) -> Bool {
        guard let at = text.firstIndex(of: "@") else { return false }
        let did = text[..<at]
        guard did.hasPrefix("did:key:z"), did.utf8.count <= 64,
              did.dropFirst(9).allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { return false }
        return isHostPort(String(text[text.index(after: at)...]))
    }

    /// `HOST:PORT` with a printable host (IPv6 in brackets) and a port 1–65535.
    static func isHostPort(_ text: String) -> Bool {
        guard text.utf8.count <= 261, let colon = text.lastIndex(of: ":") else { return false }
        let host = text[..<colon], port = text[text.index(after: colon)...]
        guard let number = Int(port), (1...65_535).contains(number), String(number) == port, !host.isEmpty else { return false }
        return host.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "=") }
    }
}

/// A `public` DHT record: a pkarr signed packet. The BEP 44 item has `k` = the identity's
/// Ed25519 key, no salt, `seq` = signing time in microseconds, and `v` = a DNS message whose
/// TXT records `_kith.<z-base-32 key>` (TTL 300) hold one string per endpoint.
public enum PublicRecord {
    /// TTL of every record.
    public static let ttl: UInt32 = 300
    /// The label under the key's name that holds Kith endpoints.
    public static let label = "_kith"

    /// Why a record cannot be made or read.
    public enum RecordError: Error, Equatable, Sendable {
        case tooLarge(Int)
        case notADNSMessage
        case badSignature
    }

    /// The DNS message for `endpoints` under `key`.
    public static func message(key: [UInt8], endpoints: NodeEndpoints) -> DNSMessage {
        let name = [label, ZBase32.encode(key)]
        return DNSMessage(answers: endpoints.txtStrings.map { DNSMessage.Record.txt(name: name, ttl: ttl, strings: [$0]) })
    }

    /// The signed item; throws when it would exceed BEP 44's 1,000 bytes.
    public static func item(endpoints: NodeEndpoints, keyPair: Ed25519.KeyPair, microseconds: Int64) throws(RecordError) -> MutableItem {
        let dns = message(key: keyPair.publicKey.bytes, endpoints: endpoints).encoded()
        let value = Bencode.bytes(dns)
        guard value.encoded().count <= MutableItem.maxValueBytes else { throw .tooLarge(value.encoded().count) }
        return MutableItem.signed(value: value, seq: microseconds, keyPair: keyPair)
    }

    /// The endpoints a valid item publishes: TXT strings of `_kith` records whose name ends in
    /// the key's z-base-32 label (others are ignored).
    public static func endpoints(from item: MutableItem) throws(RecordError) -> NodeEndpoints {
        guard item.isValid else { throw .badSignature }
        guard let dns = item.value.bytesValue, let message = try? DNSMessage.decode(dns) else { throw .notADNSMessage }
        return endpoints(in: message, key: item.key)
    }

    /// The endpoints in the `_kith.<z-base-32 of key>` TXT records of `message` (the form both
    /// records carry); records of other names are ignored.
    static func endpoints(in message: DNSMessage, key: [UInt8]) -> NodeEndpoints {
        let origin = ZBase32.encode(key)
        let strings = message.answers.filter {
            $0.name.count == 2 && $0.name[0].lowercased() == label && $0.name[1].lowercased() == origin
        }.compactMap(\.txtStrings).joined()
        return NodeEndpoints(txtStrings: Array(strings))
    }
}
