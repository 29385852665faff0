import Foundation
import KithModel

/// Tokenising and normalising text for retrieval and for the disclosure guard.
enum TextTools {
    static let stopwords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "do", "does", "for", "from", "have", "has", "he", "her",
        "his", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "she", "so", "that", "the",
        "their", "them", "there", "they", "this", "to", "too", "was", "we", "were", "what", "when", "where", "which", "who",
        "why", "will", "with", "you", "your", "yours", "am", "been", "can", "could", "would", "should", "about", "just",
        "not", "no", "yes", "all", "any", "some", "than", "then", "also", "very", "much", "more", "most", "how", "tell",
        "please", "know", "like", "one", "two", "over", "after", "before", "up", "out", "down", "off", "again", "here",
    ]

    /// Lowercased words of letters and digits, of the text's NFC form: canonically equal texts
    /// (composed "ä" or "a" + U+0308) give the same words.
    static func words(_ text: String) -> [String] {
        if let ascii = asciiWords(text) { return ascii }
        var out: [String] = []
        var current = ""
        for scalar in text.precomposedStringWithCanonicalMapping.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                current.unicodeScalars.append(scalar)
            } else if !current.isEmpty {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// ``words(_:)`` for ASCII text, byte by byte (most text is); nil for any other text.
    private static func asciiWords(_ text: String) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            var out: [String] = []
            var word: [UInt8] = []
            for byte in bytes {
                guard byte < 0x80 else { return nil }
                let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                if (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) {
                    word.append(lower)
                } else if !word.isEmpty {
                    out.append(String(decoding: word, as: UTF8.self))
                    word.removeAll(keepingCapacity: true)
                }
            }
            if !word.isEmpty { out.append(String(decoding: word, as: UTF8.self)) }
            return out
        }
    }

    /// Words without stopwords, crudely stemmed (plural and -ing/-ed endings).
    static func terms(_ text: String) -> [String] {
        words(text).filter { !stopwords.contains($0) && $0.count > 1 }.map(stem)
    }

    /// A memory's terms: its text and tags.
    static func terms(of memory: IdentityModel.Memory) -> [String] {
        terms(memory.text + " " + memory.tags.joined(separator: " "))
    }

    static func stem(_ word: String) -> String {
        for suffix in ["ing", "ed", "es", "s"] where word.count > suffix.count + 3 && word.hasSuffix(suffix) {
            return String(word.dropLast(suffix.count))
        }
        return word
    }

    /// Letters and digits only, lowercased: catches spelled-out or punctuated text.
    static func squashed(_ text: String) -> String {
        if let ascii = asciiWords(text) { return ascii.joined() }
        return String(String.UnicodeScalarView(text.precomposedStringWithCanonicalMapping.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }))
    }

    /// Whether `text` holds `part`, comparing the UTF-8 bytes of their NFC forms (no UTF-16
    /// bridging; canonically equal spellings match).
    static func contains(_ text: String, _ part: String) -> Bool {
        containsBytes(nfc(text), nfc(part))
    }

    /// `text` in NFC (ASCII text as it is).
    static func nfc(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
    }

    /// Whether `text` holds `part` byte for byte (UTF-8): for texts already in NFC, such as what
    /// ``words(_:)`` and ``squashed(_:)`` return.
    static func containsBytes(_ text: String, _ part: String) -> Bool {
        var text = text, part = part
        return text.withUTF8 { haystack in
            part.withUTF8 { needle in
                guard !needle.isEmpty else { return true }
                guard needle.count <= haystack.count else { return false }
                let first = needle[0]
                for start in 0...(haystack.count - needle.count) where haystack[start] == first
                    && memcmp(haystack.baseAddress! + start, needle.baseAddress!, needle.count) == 0 {
                    return true
                }
                return false
            }
        }
    }

    /// Overlapping word n-grams.
    static func shingles(_ words: [String], size: Int) -> Set<String> {
        guard words.count >= size else { return [] }
        return Set((0...(words.count - size)).map { words[$0..<$0 + size].joined(separator: " ") })
    }
}
