import KithCBOR
public import KithCrypto
public import KithModel

/// Signed objects with every field chosen by a hostile caller.
public enum Forge {
    /// An entry signed by `signer`, who need not be its `author`.
    public static func entry(conv: [UInt8], seq: UInt64, prev: [UInt8], author: Identity, text: String = "hello", kind: String = "say",
                             ts: UInt64 = 1_800_000_000_000, model: [UInt8] = [UInt8](repeating: 0, count: 32), by: String = "ai",
                             engine: String = "forge", version: UInt64 = 2, signer: Ed25519.KeyPair) -> SignedObject {
        var fields: [String: CBOR] = [
            "v": .unsigned(version), "conv": .bytes(conv), "seq": .unsigned(seq), "prev": .bytes(prev), "author": .bytes(author.bytes),
            "ts": .unsigned(ts), "kind": .text(kind), "text": .text(text), "model": .bytes(model), "disclosed": .array([]),
        ]
        if version >= 2 {
            fields["by"] = .text(by)
            fields["engine"] = .text(engine)
        }
        return SignedObject.sign(type: ConversationEntry.type, payload: .textMap(fields), with: signer)
    }
}
