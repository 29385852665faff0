import Foundation
public import KithModel

/// Stands between every engine and the wire: no outgoing text may reveal a memory the peer may
/// not see (private: never; friends-only: not to non-friends), whatever the engine produced.
public struct DisclosureGuard: Sendable {
    /// The memories this peer must not learn.
    public let forbidden: [IdentityModel.Memory]
    private let distinctive: [(token: String, memory: Int)]
    private let shingles: [Set<String>]
    private let squashedTokens: [(token: String, memory: Int)]

    /// A guard for a peer: everything outside ``MemoryFilter/permitted(_:peerIsFriend:)``. Words
    /// that also occur in what the peer may hear (public profile and permitted memories) are not
    /// treated as revealing.
    public init(model: IdentityModel, peerIsFriend: Bool) {
        let permitted = MemoryFilter.permitted(model, peerIsFriend: peerIsFriend)
        forbidden = model.memories.filter { m in !permitted.contains(m) }
        var allowedWords = Set(TextTools.words(([model.name, model.bio, model.style] + model.interests + model.values).joined(separator: " ")))
        for m in permitted { allowedWords.formUnion(TextTools.words(m.text)) }
        var distinctive: [(String, Int)] = []
        var squashed: [(String, Int)] = []
        for (i, m) in forbidden.enumerated() {
            let words = TextTools.words(m.text)
            for w in Set(words) where !allowedWords.contains(w) && !TextTools.stopwords.contains(w) {
                // Long words, and anything with a digit (dates, numbers, canaries), identify a memory.
                if w.count >= 6 || (w.count >= 3 && w.contains(where: \.isNumber)) {
                    distinctive.append((w, i))
                    if w.count >= 6 { squashed.append((w, i)) }
                }
            }
            // Runs of two or three words written without separators ("quokka7731zebra"), so
            // spelled-out or re-punctuated fragments are caught too.
            for n in 2...3 where words.count >= n {
                for start in 0...(words.count - n) {
                    let run = words[start..<start + n]
                    guard run.contains(where: { !allowedWords.contains($0) && !TextTools.stopwords.contains($0) }) else { continue }
                    let joined = run.joined()
                    if joined.count >= 8 { squashed.append((joined, i)) }
                }
            }
        }
        self.distinctive = distinctive
        self.squashedTokens = squashed
        shingles = forbidden.map { TextTools.shingles(TextTools.words($0.text).map(TextTools.stem), size: 3) }
    }

    /// The forbidden memories `text` would reveal (empty when it is safe to send).
    public func leaks(in text: String) -> [IdentityModel.Memory] {
        let words = TextTools.words(text)
        let wordSet = Set(words)
        let squashedText = TextTools.squashed(text)
        let textShingles = TextTools.shingles(words.map(TextTools.stem), size: 3)
        var hit = Set<Int>()
        for (token, i) in distinctive where wordSet.contains(token) { hit.insert(i) }
        // Spelled out, hyphenated, split or reversed: look for the letters in order without gaps.
        let reversedText = String(squashedText.reversed())
        for (token, i) in squashedTokens where squashedText.contains(token) || reversedText.contains(token) { hit.insert(i) }
        for (i, s) in shingles.enumerated() where !s.isDisjoint(with: textShingles) { hit.insert(i) }
        return hit.sorted().map { forbidden[$0] }
    }

    /// Removes the sentences that leak; nil when nothing safe is left.
    public func redact(_ text: String) -> String? {
        var sentences: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ".!?\n".contains(ch) {
                sentences.append(current)
                current = ""
            }
        }
        if !current.isEmpty { sentences.append(current) }
        let safe = sentences.filter { leaks(in: $0).isEmpty }.joined().trimmingCharacters(in: .whitespaces)
        return safe.isEmpty || !leaks(in: safe).isEmpty ? nil : safe
    }

    /// Produces a safe turn: the engine's, a regenerated one, a redacted one, or a refusal.
    /// `disclosed` keeps only permitted memories.
    public func guardTurn(_ turn: PersonaTurn, regenerate: () async throws -> PersonaTurn) async -> (turn: PersonaTurn, blocked: Int) {
        func clean(_ t: PersonaTurn) -> PersonaTurn {
            var t = t
            t.disclosed = t.disclosed.filter { !forbidden.contains($0) }
            return t
        }
        if leaks(in: turn.text).isEmpty { return (clean(turn), 0) }
        if let again = try? await regenerate(), leaks(in: again.text).isEmpty { return (clean(again), 1) }
        if let redacted = redact(turn.text) {
            var t = turn
            t.text = redacted
            return (clean(t), 1)
        }
        return (PersonaTurn(kind: turn.kind == .close ? .close : .say, text: "That's something I can't share."), 1)
    }
}
