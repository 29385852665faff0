import KithCrypto
import KithModel

/// The default engine: offline and deterministic for a given seed. It speaks from the identity
/// model — greets, finds shared interests, answers from the memories permitted for this peer
/// (BM25 over memory text and tags), asks back, proposes a connection when the match is good,
/// and knows when to close. It never repeats text the peer controls (its name, the topic, its
/// turns): what it says comes from this person's own model, so the disclosure guard's verdict on
/// it cannot be steered by the peer.
public struct EmbeddedEngine: PersonaEngine {
    public let name = "embedded"
    /// Varies the wording; the same seed and transcript give the same turn.
    public let seed: UInt64

    /// Creates the engine.
    public init(seed: UInt64 = 0) {
        self.seed = seed
    }

    public func nextTurn(_ c: TurnContext) async throws -> PersonaTurn {
        let mineSoFar = c.transcript.filter(\.mine).count
        let last = c.transcript.last { !$0.mine }
        let assessment = Assessment.embedded(c)
        let minMatch = c.persona.policy.minMatch

        // Answer a proposal by this person's connect policy and the match.
        if let last, last.kind == .propose, c.transcript.last?.mine == false {
            switch c.persona.policy.connect {
            case .never:
                return PersonaTurn(kind: .decline, text: "Thank you — but \(c.persona.name) doesn't make new connections through me.")
            case .ask:
                return PersonaTurn(kind: .accept, text: "I'd like that. \(c.persona.name) approves connections personally, so it goes to them to confirm.")
            case .auto:
                if assessment.score >= minMatch {
                    return PersonaTurn(kind: .accept, text: "Yes, gladly — \(assessment.reasons.first ?? "we have a lot in common").")
                }
                return PersonaTurn(kind: .decline, text: "It's been lovely, but I don't think we're a close enough match (\(percent(assessment.score))).")
            }
        }
        if c.turnsLeft <= 0 {
            return PersonaTurn(kind: .close, text: pick(["Thanks for the conversation!", "Lovely talking with you — bye for now."], mineSoFar))
        }
        let proposed = c.transcript.contains { $0.kind == .propose }
        // Late in the conversation: propose if the match is good, else close kindly.
        if c.turnsLeft <= 2 && mineSoFar >= 2 {
            if !proposed && assessment.score >= minMatch && c.persona.policy.connect != .never {
                let reasons = assessment.reasons.prefix(2).joined(separator: "; ")
                return PersonaTurn(kind: .propose, text: "I think our people would get on: \(reasons). Shall we connect them? (match \(percent(assessment.score)))")
            }
            if c.turnsLeft <= 1 || proposed {
                return PersonaTurn(kind: .close, text: pick(["It was a pleasure. Take care!", "Thanks — I'll tell \(c.persona.name) about you."], mineSoFar))
            }
        }

        let myInterests = c.persona.interests
        let shared = myInterests.filter { i in c.peerInterests.contains { $0.lowercased() == i.lowercased() } }
        let usedTexts = Set(c.transcript.filter(\.mine).map(\.text))
        let query = TextTools.terms((last?.text ?? "") + " " + c.topic)
        let memory = bestMemory(c.memories, query: query, avoiding: usedTexts)
        var parts: [String] = []
        var disclosed: [IdentityModel.Memory] = []

        let style = Style(c.persona.style)
        if mineSoFar == 0 {
            parts.append(pick(style.greetings(name: c.persona.name), 0))
            if !c.persona.bio.isEmpty && !style.concise { parts.append(c.persona.bio) }
        } else if let last, !style.concise || last.text.contains("?") {
            parts.append(reaction(to: last.text, index: mineSoFar, style: style))
        }
        if let memory, !query.isEmpty || mineSoFar > 0 {
            parts.append(memory.text)
            disclosed.append(memory)
        }
        let discussed = Set(c.transcript.flatMap { TextTools.terms($0.text) })
        if let next = (shared + myInterests).first(where: { !discussed.contains(TextTools.stem($0.lowercased())) && !TextTools.terms($0).allSatisfy(discussed.contains) }) {
            parts.append(pick(["What draws you to \(next)?", "How about \(next) — is that something you enjoy too?", "Do you do much \(next)?"], mineSoFar))
        } else if last?.text.contains("?") != true {
            parts.append("What are you most excited about these days?")
        }
        if parts.count == 1 && mineSoFar > 0 {
            // Nothing left to tell or ask: say something about the topic and the person's values.
            let value = c.persona.values.isEmpty ? "" : " \(c.persona.name) cares a lot about \(c.persona.values[mineSoFar % c.persona.values.count])."
            parts.append("I'm enjoying this conversation.\(value)")
        }
        let text = parts.joined(separator: " ")
        return PersonaTurn(kind: .say, text: String(text.prefix(3000)), disclosed: disclosed)
    }

    /// The most relevant memory for `query` not said before (ties broken by the seed).
    func bestMemory(_ memories: [IdentityModel.Memory], query: [String], avoiding used: Set<String>) -> IdentityModel.Memory? {
        let candidates = memories.filter { m in !used.contains { $0.contains(m.text) } }
        guard !candidates.isEmpty else { return nil }
        let bm25 = BM25(candidates.map { TextTools.terms($0.text + " " + $0.tags.joined(separator: " ")) })
        let scores = bm25.scores(query)
        let best = scores.indices.max { a, b in
            scores[a] != scores[b] ? scores[a] < scores[b] : tiebreak(a) > tiebreak(b)
        }!
        return scores[best] > 0 || query.isEmpty ? candidates[best] : candidates[Int(tiebreak(0) % UInt64(candidates.count))]
    }

    private func reaction(to text: String, index: Int, style: Style) -> String {
        if text.contains("?") {
            return pick(style.concise ? ["Sure."] : ["Good question.", "Happy to answer that.", "Let me think."], index)
        }
        if style.playful { return pick(["Ha, love it.", "Now we're talking!", "Oh, that's fun."], index) }
        if style.warm { return pick(["That's lovely to hear.", "Oh, how wonderful.", "I really like that."], index) }
        if style.precise { return pick(["Interesting.", "That makes sense.", "Noted, and intriguing."], index) }
        return pick(["Oh, nice.", "I like that.", "That resonates."], index)
    }

    /// A few cues from the free-text `style` of the identity model.
    struct Style {
        var warm = false, concise = false, playful = false, precise = false
        init(_ text: String) {
            let words = Set(TextTools.words(text))
            warm = !words.isDisjoint(with: ["warm", "friendly", "kind", "gentle"])
            concise = !words.isDisjoint(with: ["concise", "short", "brief", "terse"])
            playful = !words.isDisjoint(with: ["playful", "funny", "witty", "easy"])
            precise = !words.isDisjoint(with: ["precise", "thoughtful", "rigorous", "careful"])
        }

        func greetings(name: String) -> [String] {
            if playful { return ["Hey! \(name)'s AI reporting for duty.", "Hi — \(name)'s AI here, ready to chat."] }
            if warm { return ["Hi, so nice to meet you! I'm \(name)'s AI.", "Hello — \(name)'s AI here, lovely to meet you."] }
            return ["Hi! I'm the AI identity of \(name).", "Hello — \(name)'s AI here."]
        }
    }

    private func pick(_ options: [String], _ index: Int) -> String {
        options[Int(tiebreak(index) % UInt64(options.count))]
    }

    private func tiebreak(_ index: Int) -> UInt64 {
        var x = seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        return x ^ (x >> 31)
    }

    private func percent(_ score: Double) -> String { "\(Int((score * 100).rounded()))%" }
}
