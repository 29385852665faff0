import Crypto
import KithCrypto

/// A 160-bit Mainline DHT identifier: a node's id, an info-hash or a BEP 44 target.
public struct NodeID: Sendable, Hashable, CustomStringConvertible {
    /// The 20 bytes.
    public let bytes: [UInt8]

    /// Length of an id in bytes.
    public static let length = 20

    /// An id from exactly 20 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.length else { return nil }
        self.bytes = bytes
    }

    /// A random id.
    public static func random() -> NodeID { NodeID(bytes: Random.bytes(length))! }

    /// SHA-1 of `data`: BEP 44 targets are SHA-1(key ‖ salt). SHA-1 is the DHT's addressing
    /// function here, not a security primitive (libsodium has none; swift-crypto provides it).
    public static func sha1(_ data: [UInt8]) -> NodeID {
        NodeID(bytes: Array(Insecure.SHA1.hash(data: data)))!
    }

    /// XOR distance to `other`, as 20 big-endian bytes (compare with ``closer(to:than:)``).
    public func distance(to other: NodeID) -> [UInt8] {
        zip(bytes, other.bytes).map { $0 ^ $1 }
    }

    /// Whether `self` is strictly closer to `target` than `other` is.
    public func closer(to target: NodeID, than other: NodeID) -> Bool {
        for index in 0..<Self.length {
            let mine = bytes[index] ^ target.bytes[index]
            let theirs = other.bytes[index] ^ target.bytes[index]
            if mine != theirs { return mine < theirs }
        }
        return false
    }

    /// Number of leading bits `self` shares with `other` (160 when equal).
    public func commonPrefixLength(with other: NodeID) -> Int {
        for index in 0..<Self.length {
            let difference = bytes[index] ^ other.bytes[index]
            if difference != 0 { return index * 8 + difference.leadingZeroBitCount }
        }
        return Self.length * 8
    }

    public var description: String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// A UDP address: 4 (IPv4) or 16 (IPv6) address bytes and a port.
public struct DHTAddress: Sendable, Hashable, CustomStringConvertible {
    /// Address bytes in network order.
    public let ip: [UInt8]
    /// UDP port.
    public let port: UInt16

    /// An address; nil unless `ip` has 4 or 16 bytes.
    public init?(ip: [UInt8], port: UInt16) {
        guard ip.count == 4 || ip.count == 16 else { return nil }
        self.ip = ip
        self.port = port
    }

    /// Parses a dotted IPv4 address.
    public init?(host: String, port: Int) {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, (0...65_535).contains(port) else { return nil }
        var ip: [UInt8] = []
        for part in parts {
            guard let value = UInt8(part), String(value) == part else { return nil }
            ip.append(value)
        }
        self.init(ip: ip, port: UInt16(port))
    }

    /// Whether this is an IPv4 address.
    public var isIPv4: Bool { ip.count == 4 }

    /// The host as text (dotted IPv4, or IPv6 hex groups).
    public var host: String {
        if isIPv4 { return ip.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    /// The /24 (IPv4) or /64 (IPv6) prefix this address belongs to.
    public var network: [UInt8] { Array(ip.prefix(isIPv4 ? 3 : 8)) }

    /// Compact form (BEP 5): address bytes then the port, big-endian.
    public var compact: [UInt8] { ip + [UInt8(port >> 8), UInt8(port & 0xff)] }

    /// Parses a compact address of 6 or 18 bytes.
    public init?(compact: some Collection<UInt8>) {
        let bytes = Array(compact)
        guard bytes.count == 6 || bytes.count == 18 else { return nil }
        let port = UInt16(bytes[bytes.count - 2]) << 8 | UInt16(bytes[bytes.count - 1])
        self.init(ip: Array(bytes.dropLast(2)), port: port)
    }

    public var description: String { isIPv4 ? "\(host):\(port)" : "[\(host)]:\(port)" }
}

/// A DHT node we know of: its id and address.
public struct Contact: Sendable, Hashable {
    public let id: NodeID
    public let address: DHTAddress

    public init(id: NodeID, address: DHTAddress) {
        self.id = id
        self.address = address
    }

    /// Compact node info (BEP 5): 26 bytes for IPv4, 38 for IPv6.
    public var compact: [UInt8] { id.bytes + address.compact }

    /// Parses a `nodes` (IPv4, 26-byte entries) or `nodes6` (38-byte entries) string; nil when
    /// its length is not a multiple of the entry size.
    public static func parseCompact(_ bytes: [UInt8], ipv6: Bool) -> [Contact]? {
        let size = ipv6 ? 38 : 26
        guard bytes.count % size == 0 else { return nil }
        var contacts: [Contact] = []
        for start in stride(from: 0, to: bytes.count, by: size) {
            guard let id = NodeID(bytes: Array(bytes[start..<start + 20])),
                  let address = DHTAddress(compact: bytes[start + 20..<start + size]),
                  address.port != 0
            else { continue }
            contacts.append(Contact(id: id, address: address))
        }
        return contacts
    }
}
