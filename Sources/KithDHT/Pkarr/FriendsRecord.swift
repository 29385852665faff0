public import KithCrypto

/// A `friends` DHT record: the same endpoints as a ``PublicRecord``, readable only by holders of
/// the read key derived from the person's 32-byte *record key* (friends, who receive it over
/// sessions, and invite holders); only the person, who keeps the record key, can publish it.
///
/// The BEP 44 item is signed by an Ed25519 key derived from the record key, so neither its key
/// nor its target links it to the identity; its value is `nonce(12) ‖ ChaCha20-Poly1305` of
/// `identity key(32) ‖ signature(64) ‖ DNS message` (associated data: the derived key), and the
/// inner signature is the identity's over `"kith/dht/v1/friends-record" ‖ derived key ‖
/// seq (8 bytes, big-endian) ‖ DNS message`, so no friend (who also holds the record key) can
/// publish in the person's name. See `Protocol/dht.md`.
public enum FriendsRecord {
    /// Length of a record key.
    public static let keyLength = 32
    static let signingLabel = Array("kith/dht/v1/friends-record/signing".utf8)
    static let encryptionLabel = Array("kith/dht/v1/friends-record/encryption".utf8)
    static let innerLabel = Array("kith/dht/v1/friends-record".utf8)

    /// Why a record cannot be made or read.
    public enum RecordError: Error, Equatable, Sendable {
        case badKey
        case tooLarge(Int)
        case badSignature
        case cannotDecrypt
        case wrongIdentity
        case notADNSMessage
    }

    /// What a reader holds: the publishing public key and the encryption key (64 bytes on the
    /// wire, `P ‖ E`). It reads the record but cannot sign one: friends and invite holders get
    /// this, never the record key, so no friend can overwrite or hide the record.
    public struct ReadKey: Sendable {
        /// The Ed25519 public key the record is published under (`P`).
        public let publishingKey: [UInt8]
        let encryptionKey: SecretBytes

        /// Length on the wire.
        public static let length = 64

        /// A read key from its 64 wire bytes (zeroed after).
        public init?(bytes: inout [UInt8]) {
            guard bytes.count == Self.length else { return nil }
            publishingKey = Array(bytes.prefix(32))
            var secret = Array(bytes.suffix(32))
            encryptionKey = SecretBytes(consuming: &secret)
            SecretBytes.zero(&bytes)
        }

        init(publishingKey: [UInt8], encryptionKey: SecretBytes) {
            self.publishingKey = publishingKey
            self.encryptionKey = encryptionKey
        }

        /// The 64 wire bytes; the caller zeroes them after use.
        public func bytes() -> [UInt8] { publishingKey + encryptionKey.withUnsafeBytes { Array($0) } }
    }

    /// The read key for the record published with `recordKey`.
    public static func readKey(recordKey: SecretBytes) throws(RecordError) -> ReadKey {
        ReadKey(publishingKey: try publishingKey(recordKey: recordKey).publicKey.bytes, encryptionKey: encryptionKey(recordKey: recordKey))
    }

    /// The Ed25519 key pair the record is published under: seed = BLAKE2b-256(key: record key,
    /// "kith/dht/v1/friends-record/signing").
    public static func publishingKey(recordKey: SecretBytes) throws(RecordError) -> Ed25519.KeyPair {
        guard recordKey.count == keyLength else { throw .badKey }
        var seed = BLAKE2b.hash(parts: [signingLabel], length: 32, key: recordKey)
        do { return try Ed25519.KeyPair(seed: SecretBytes(consuming: &seed)) } catch { throw .badKey }
    }

    static func encryptionKey(recordKey: SecretBytes) -> SecretBytes {
        var key = BLAKE2b.hash(parts: [encryptionLabel], length: 32, key: recordKey)
        return SecretBytes(consuming: &key)
    }

    static func innerMessage(publishingKey: [UInt8], seq: Int64, dns: [UInt8]) -> [UInt8] {
        let seqBytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: seq) >> (56 - 8 * UInt64($0))) }
        return innerLabel + publishingKey + seqBytes + dns
    }

    /// The signed, encrypted item for `endpoints`.
    public static func item(endpoints: NodeEndpoints, identity: Ed25519.KeyPair, recordKey: SecretBytes,
                            microseconds: Int64) throws(RecordError) -> MutableItem {
        let publisher = try publishingKey(recordKey: recordKey)
        let dns = PublicRecord.message(key: identity.publicKey.bytes, endpoints: endpoints).encoded()
        let signature = identity.sign(innerMessage(publishingKey: publisher.publicKey.bytes, seq: microseconds, dns: dns))
        let nonce = Random.bytes(ChaCha20Poly1305.nonceLength)
        let sealed: [UInt8]
        do {
            sealed = try ChaCha20Poly1305.seal(identity.publicKey.bytes + signature + dns, key: encryptionKey(recordKey: recordKey),
                                               nonce: nonce, ad: publisher.publicKey.bytes)
        } catch { throw .cannotDecrypt }
        let value = Bencode.bytes(nonce + sealed)
        guard value.encoded().count <= MutableItem.maxValueBytes else { throw .tooLarge(value.encoded().count) }
        return MutableItem.signed(value: value, seq: microseconds, keyPair: publisher)
    }

    /// The endpoints in `item`, checked: BEP 44 signature, decryption with the read key, the
    /// identity it names is `identity`, and that identity's signature over this seq.
    public static func endpoints(from item: MutableItem, readKey: ReadKey, identity: Ed25519.PublicKey) throws(RecordError) -> NodeEndpoints {
        guard item.isValid else { throw .badSignature }
        guard item.key == readKey.publishingKey, let bytes = item.value.bytesValue,
              bytes.count > ChaCha20Poly1305.nonceLength + ChaCha20Poly1305.tagLength + 96
        else { throw .cannotDecrypt }
        let nonce = Array(bytes.prefix(ChaCha20Poly1305.nonceLength))
        let plain: [UInt8]
        do {
            plain = try ChaCha20Poly1305.open(Array(bytes.dropFirst(ChaCha20Poly1305.nonceLength)),
                                              key: readKey.encryptionKey, nonce: nonce, ad: item.key)
        } catch { throw .cannotDecrypt }
        guard Array(plain.prefix(32)) == identity.bytes else { throw .wrongIdentity }
        let signature = Array(plain[32..<96]), dns = Array(plain.dropFirst(96))
        guard identity.isValidSignature(signature, for: innerMessage(publishingKey: item.key, seq: item.seq, dns: dns)) else {
            throw .badSignature
        }
        guard let message = try? DNSMessage.decode(dns) else { throw .notADNSMessage }
        return PublicRecord.endpoints(in: message, key: identity.bytes)
    }
}
