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

    /// Lowercased words of letters and digits.
    static func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for scalar in text.lowercased().unicodeScalars {
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

    /// Words without stopwords, crudely stemmed (plural and -ing/-ed endings).
    static func terms(_ text: String) -> [String] {
        words(text).filter { !stopwords.contains($0) && $0.count > 1 }.map(stem)
    }

    static func stem(_ word: String) -> String {
        for suffix in ["ing", "ed", "es", "s"] where word.count > suffix.count + 3 && word.hasSuffix(suffix) {
            return String(word.dropLast(suffix.count))
        }
        return word
    }

    /// Letters and digits only, lowercased: catches spelled-out or punctuated text.
    static func squashed(_ text: String) -> String {
        String(String.UnicodeScalarView(text.lowercased().unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) }))
    }

    /// Overlapping word n-grams.
    static func shingles(_ words: [String], size: Int) -> Set<String> {
        guard words.count >= size else { return [] }
        return Set((0...(words.count - size)).map { words[$0..<$0 + size].joined(separator: " ") })
    }
}
