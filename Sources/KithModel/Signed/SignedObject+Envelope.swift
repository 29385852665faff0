import Foundation
public import KithCBOR

extension SignedObject {
    /// The wire form: the CBOR map `{"type", "bytes", "sig"}`.
    public var wireValue: CBOR {
        .textMap(["type": .text(type), "bytes": .bytes(bytes), "sig": .bytes(sig)])
    }

    /// Reads the wire form; exactly the three keys with the right types.
    public init(wireValue: CBOR) throws(SignedObjectError) {
        guard case .map(let map) = wireValue, map.count == 3,
              case .text(let type)? = map[.text("type")],
              case .bytes(let bytes)? = map[.text("bytes")],
              case .bytes(let sig)? = map[.text("sig")]
        else { throw .malformed("a signed object is the map {\"type\", \"bytes\", \"sig\"} and nothing else") }
        try self.init(type: type, bytes: bytes, sig: sig)
    }

    /// The JSON envelope: `{"type":"…","bytes":"<base64url>","sig":"<base64url>"}` with no
    /// whitespace, keys in this order (the canonical text form).
    public var envelopeJSON: String {
        #"{"type":"\#(type)","bytes":"\#(Base64URL.encode(bytes))","sig":"\#(Base64URL.encode(sig))"}"#
    }

    /// Largest envelope file accepted.
    public static let maxEnvelopeSize = 100_000

    /// Parses a JSON envelope strictly: it must be exactly the canonical text form, optionally
    /// followed by one newline, so every byte of an envelope file matters.
    public init(envelopeJSON text: [UInt8]) throws(SignedObjectError) {
        guard text.count <= SignedObject.maxEnvelopeSize else { throw .malformed("envelope larger than \(SignedObject.maxEnvelopeSize) bytes") }
        var body = text
        if body.last == UInt8(ascii: "\n") { body.removeLast() }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(body)) } catch {
            throw .malformed("not JSON: \(error.localizedDescription)")
        }
        guard let dict = object as? [String: Any], dict.count == 3,
              let type = dict["type"] as? String,
              let bytesText = dict["bytes"] as? String,
              let sigText = dict["sig"] as? String
        else { throw .malformed("an envelope is {\"type\":…,\"bytes\":…,\"sig\":…} with string values and no other keys") }
        guard let bytes = Base64URL.decode(bytesText) else { throw .malformed("\"bytes\" is not canonical unpadded base64url") }
        guard let sig = Base64URL.decode(sigText) else { throw .malformed("\"sig\" is not canonical unpadded base64url") }
        try self.init(type: type, bytes: bytes, sig: sig)
        guard Array(envelopeJSON.utf8) == body else {
            throw .malformed("envelope is not in canonical form (no whitespace, keys in the order type, bytes, sig)")
        }
    }
}
