/// z-base-32 (Zooko's human-oriented base-32), as pkarr writes Ed25519 keys into DNS names:
/// bits taken most significant first, 5 per character, the last character padded with zeros.
public enum ZBase32 {
    static let alphabet = Array("ybndrfg8ejkmcpqxot1uwisza345h769".utf8)

    /// The z-base-32 text of `bytes`.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int(buffer >> UInt32(bits - 5) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `text` into exactly `length` bytes; nil for a character outside the alphabet,
    /// a wrong length or non-zero padding bits.
    public static func decode(_ text: String, length: Int) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count == (length * 8 + 4) / 5 else { return nil }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in characters {
            guard let value = alphabet.firstIndex(of: character) else { return nil }
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                out.append(UInt8(buffer >> UInt32(bits - 8) & 0xff))
                bits -= 8
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        guard out.count == length, buffer == 0 else { return nil }
        return out
    }
}
