import KithModel

/// How well two people might match, with reasons a person can read.
public struct Assessment: Sendable, Hashable, Codable {
    /// 0 (no match) … 1 (excellent).
    public var score: Double
    /// Why, in short phrases.
    public var reasons: [String]

    /// Creates an assessment.
    public init(score: Double, reasons: [String]) {
        self.score = score
        self.reasons = reasons
    }

    /// The embedded assessment: shared public interests (the largest part), topics the peer
    /// brought up that this person cares about, and how engaged the conversation was.
    public static func embedded(_ context: TurnContext) -> Assessment {
        let mine = Set(context.persona.interests.map { $0.lowercased() })
        let theirs = Set(context.peerInterests.map { $0.lowercased() })
        let shared = mine.intersection(theirs).sorted()
        let union = mine.union(theirs)
        let interestScore = union.isEmpty ? 0 : min(1, Double(shared.count) / Double(max(2, min(mine.count, theirs.count))))
        var reasons: [String] = []
        if !shared.isEmpty { reasons.append("shared interests: \(shared.joined(separator: ", "))") }

        let peerText = context.transcript.filter { !$0.mine }.map(\.text).joined(separator: " ")
        let peerTerms = Set(TextTools.terms(peerText))
        // What this person cares about, by the stems of its words, as the person wrote it: the
        // whole phrase ("type theory"), never a stem; shared interests are already a reason.
        var caresAbout: [String: String] = [:]
        var seen = Set<String>()
        for phrase in context.persona.interests + context.persona.values + context.memories.flatMap(\.tags) where seen.insert(phrase).inserted {
            for word in TextTools.words(phrase) where !TextTools.stopwords.contains(word) && word.count > 1 {
                let stem = TextTools.stem(word)
                if caresAbout[stem] == nil { caresAbout[stem] = phrase.lowercased() }
            }
        }
        let echoed = Array(Set(peerTerms.compactMap { caresAbout[$0] })).filter { !shared.contains($0) }.sorted()
        let topicScore = min(1, Double(echoed.count) / 4)
        if !echoed.isEmpty { reasons.append("they talked about \(echoed.prefix(4).joined(separator: ", "))") }

        let peerTurns = context.transcript.filter { !$0.mine }
        let questions = peerTurns.filter { $0.text.contains("?") }.count
        let engagement = peerTurns.isEmpty ? 0 : min(1, Double(peerTurns.count) / 3 * 0.7 + (questions > 0 ? 0.3 : 0))
        if questions > 0 { reasons.append("they asked \(questions) question\(questions == 1 ? "" : "s")") }
        if peerTurns.contains(where: { $0.kind == .decline }) { reasons.append("they declined") }

        var score = 0.6 * interestScore + 0.25 * topicScore + 0.15 * engagement
        if peerTurns.contains(where: { $0.kind == .decline }) { score *= 0.3 }
        return Assessment(score: (score * 1000).rounded() / 1000, reasons: reasons.isEmpty ? ["little in common so far"] : reasons)
    }
}
