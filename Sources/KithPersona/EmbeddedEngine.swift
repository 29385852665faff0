import KithCrypto
import KithModel

/// The default engine: offline, deterministic for a given seed, a turn in well under a
/// millisecond. It holds a conversation the way a considerate person's assistant would:
/// - it answers the question it was asked from the memories it may use for this peer (BM25
///   over memory text and tags) and says so plainly when none of them answers it;
/// - it asks about the *peer's* interests and picks up what the peer said;
/// - it knows the relationship: a friend is greeted as a friend and never proposed to;
/// - it never says the same sentence twice in a conversation, and closes when it has nothing
///   new to say rather than looping;
/// - its words come from the person's own model (memories, interests, values, style), whole:
///   no stemmed or clipped words. It does not repeat the peer's name or turns.
public struct EmbeddedEngine: PersonaEngine {
    public let name = "embedded"
    /// Varies the wording; the same seed and transcript give the same turn.
    public let seed: UInt64

    /// Creates the engine.
    public init(seed: UInt64 = 0) {
        self.seed = seed
    }

    public func nextTurn(_ c: TurnContext) async throws -> PersonaTurn {
        var turn = Turn(context: c, seed: seed)
        return turn.produce()
    }

    /// The most relevant memory for `query` among those not said before; nil when none scores.
    func bestMemory(_ memories: [IdentityModel.Memory], query: [String], avoiding used: Set<String>) -> IdentityModel.Memory? {
        Turn.bestMemory(memories, query: query, avoiding: used, seed: seed)
    }
}

/// One turn being composed: what was said so far, and the sentences chosen for this one.
private struct Turn {
    let c: TurnContext
    let seed: UInt64
    let style: Style
    /// Sentences this side already said, normalised: none is said again.
    let said: Set<String>
    /// Memory texts already told.
    let told: Set<String>
    /// This side's turns so far.
    let index: Int
    /// The peer's latest turn.
    let last: TurnContext.Line?
    var sentences: [String] = []
    var disclosed: [IdentityModel.Memory] = []

    init(context: TurnContext, seed: UInt64) {
        c = context
        self.seed = seed
        style = Style(context.persona.style)
        let mine = context.transcript.filter(\.mine)
        said = Set(mine.flatMap { Self.sentences($0.text) }.map(Self.normalised))
        let mineTexts = mine.map { TextTools.nfc($0.text) }
        told = Set(context.memories.map(\.text).filter { text in
            let memory = TextTools.nfc(text)
            return mineTexts.contains { TextTools.containsBytes($0, memory) }
        })
        index = mine.count
        last = context.transcript.last { !$0.mine }
    }

    var name: String { c.persona.name }

    mutating func produce() -> PersonaTurn {
        let assessment = Assessment.embedded(c)
        let policy = c.persona.policy
        // A proposal is answered by the person's connect policy (and the match, for auto).
        if let last, last.kind == .propose, c.transcript.last?.mine == false {
            switch policy.connect {
            case .never:
                return PersonaTurn(kind: .decline, text: "Thank you, but \(name) doesn't make new connections through me.")
            case .ask:
                return PersonaTurn(kind: .accept, text: "I'd like that. \(name) approves connections personally, so it goes to them to confirm.")
            case .auto:
                if assessment.score >= policy.minMatch {
                    return PersonaTurn(kind: .accept, text: "Yes, gladly: \(assessment.reasons.first ?? "we have a lot in common").")
                }
                return PersonaTurn(kind: .decline, text: "It's been good talking, but I don't think we're a close enough match (\(Self.percent(assessment.score))).")
            }
        }
        if c.turnsLeft <= 0 { return close() }
        let proposed = c.transcript.contains { $0.kind == .propose }
        // Late in the conversation: propose to someone who is not yet a friend when the match
        // is good; otherwise close kindly.
        if c.turnsLeft <= 2 && index >= 2 {
            if !proposed && !c.peerIsFriend && assessment.score >= policy.minMatch && policy.connect != .never {
                let reasons = assessment.reasons.prefix(2).joined(separator: "; ")
                return PersonaTurn(kind: .propose, text: "I think \(name) and your person would get on: \(reasons). Shall we connect them? (match \(Self.percent(assessment.score)))")
            }
            if c.turnsLeft <= 1 || proposed { return close() }
        }

        if index == 0 { greet() }
        let asked = last.flatMap { Self.question(in: $0.text) }
        if let asked {
            answer(asked)
        } else if let last, index > 0 {
            respond(to: last.text)
        } else if index == 0 {
            shareAboutTopic()
        }
        askAboutThePeer()
        // Nothing new to say or ask: close rather than loop.
        if sentences.isEmpty || (index > 0 && sentences.allSatisfy { $0.isEmpty }) { return close() }
        return PersonaTurn(kind: .say, text: String(sentences.joined(separator: " ").prefix(3000)), disclosed: disclosed)
    }

    // MARK: - Parts of a turn

    mutating func greet() {
        if c.peerIsFriend {
            add(style.playful ? ["Hey, good to hear from you again! \(name)'s AI here.", "Hello again! \(name)'s AI, at your service."]
                : ["Hello again, it's good to talk. \(name)'s AI here.", "Hi, good to hear from you again. This is \(name)'s AI."])
        } else {
            add(style.warm ? ["Hi, so nice to meet you! I'm \(name)'s AI.", "Hello, \(name)'s AI here. Lovely to meet you."]
                : style.playful ? ["Hey! \(name)'s AI reporting for duty.", "Hi! \(name)'s AI here, glad to meet you."]
                : ["Hello, I'm the AI identity of \(name). Nice to meet you.", "Hi, \(name)'s AI here. Good to meet you."])
            if !c.persona.bio.isEmpty && !style.concise { add(["A little about \(name): \(Self.sentence(c.persona.bio))"]) }
        }
    }

    /// Answers `question` from a permitted memory, or says plainly that nothing it may share does.
    mutating func answer(_ question: String) {
        // The question's words first; the rest of the turn says what "it" is.
        let query = TextTools.terms(question) + TextTools.terms(last?.text ?? "")
        if let memory = Self.bestMemory(c.memories, query: query, avoiding: told, seed: seed), !query.isEmpty {
            let lead = style.concise ? [""] : ["", "Yes: ", "Happy to share: "]
            add(lead.map { $0 + Self.sentence(memory.text) })
            disclosed.append(memory)
        } else if Self.isAboutInterests(question) {
            add(["\(name) is into \(Self.list(c.persona.interests))."])
        } else {
            add(["That isn't something I can speak to for \(name), I'm afraid.", "I don't have anything I can share on that, sorry.",
                 "I can't answer that one for \(name)."])
        }
    }

    /// Picks up what the peer said: a memory it brings to mind, or its interest, or the person's values.
    mutating func respond(to text: String) {
        let query = TextTools.terms(text)
        if let memory = Self.bestMemory(c.memories, query: query, avoiding: told, seed: seed), !query.isEmpty {
            add(["That reminds me: " + Self.sentence(memory.text).lowercasedFirst(startsWithI: memory.text),
                 "\(name) can relate. " + Self.sentence(memory.text)])
            disclosed.append(memory)
            return
        }
        let theirs = peerInterestsMentioned(in: text)
        if let interest = theirs.first {
            let shared = c.persona.interests.contains { $0.lowercased() == interest.lowercased() }
            add(shared ? ["\(name) loves \(interest) too.", "That's something \(name) shares: \(interest)."]
                : ["It sounds like \(interest) matters to you.", "I can tell \(interest) means a lot to you."])
            return
        }
        if !c.persona.values.isEmpty {
            let value = c.persona.values[index % c.persona.values.count]
            add(["That resonates; \(name) cares a lot about \(value).", "\(name) would appreciate that: \(value) matters to them."])
        }
    }

    /// On the first turn, with no question to answer: a memory on the topic or the shared interests.
    mutating func shareAboutTopic() {
        let shared = sharedInterests
        let query = TextTools.terms(c.topic + " " + shared.joined(separator: " "))
        if let memory = Self.bestMemory(c.memories, query: query, avoiding: told, seed: seed), !query.isEmpty {
            add([Self.sentence(memory.text)])
            disclosed.append(memory)
        }
    }

    /// A question about the peer: a shared interest first, then the peer's other interests,
    /// each asked about once; then open questions; nothing when all were asked.
    mutating func askAboutThePeer() {
        let discussed = Set(c.transcript.flatMap { TextTools.terms($0.text) })
        let shared = sharedInterests
        let others = c.peerInterests.filter { p in !shared.contains { $0.lowercased() == p.lowercased() } }
        for interest in shared + others {
            let terms = TextTools.terms(interest)
            if !terms.isEmpty && terms.allSatisfy(discussed.contains) { continue }
            let isShared = shared.contains(interest)
            let options = isShared
                ? ["\(name) loves \(interest) too. What do you enjoy most about it?", "You're into \(interest) as well; how did you get started?",
                   "What got you into \(interest)?"]
                : ["What do you enjoy most about \(interest)?", "How did you get into \(interest)?", "What is it about \(interest) that draws you?"]
            if add(options) { return }
        }
        add(["What have you been working on lately?", "What are you looking forward to these days?", "Is there anything you'd like to ask me about \(name)?"])
    }

    func close() -> PersonaTurn {
        let options = c.peerIsFriend
            ? ["Always good to catch up. Talk soon!", "Thanks for the chat; I'll pass it on to \(name).", "Take care, speak again soon."]
            : ["Thanks for the conversation!", "Lovely talking with you, bye for now.", "It was a pleasure. Take care!", "Thanks, I'll tell \(name) about you."]
        let fresh = options.filter { !said.contains(Self.normalised($0)) }
        return PersonaTurn(kind: .close, text: Self.pick(fresh.isEmpty ? options : fresh, index, seed: seed))
    }

    // MARK: - Helpers

    var sharedInterests: [String] {
        c.peerInterests.filter { p in c.persona.interests.contains { $0.lowercased() == p.lowercased() } }
    }

    func peerInterestsMentioned(in text: String) -> [String] {
        let terms = Set(TextTools.terms(text))
        return c.peerInterests.filter { i in let t = TextTools.terms(i); return !t.isEmpty && t.allSatisfy(terms.contains) }
    }

    /// Adds one of `options` not said before in this conversation (nor in this turn); false
    /// when every option was.
    @discardableResult
    mutating func add(_ options: [String]) -> Bool {
        let used = said.union(sentences.flatMap(Self.sentences).map(Self.normalised))
        let fresh = options.filter { option in Self.sentences(option).allSatisfy { !used.contains(Self.normalised($0)) } }
        guard !fresh.isEmpty else { return false }
        sentences.append(Self.pick(fresh, index &+ sentences.count, seed: seed))
        return true
    }

    /// The last sentence of `text` that asks something.
    static func question(in text: String) -> String? {
        sentences(text).last { $0.hasSuffix("?") }
    }

    static func isAboutInterests(_ question: String) -> Bool {
        let words = Set(TextTools.words(question))
        return !words.isDisjoint(with: ["interests", "hobbies", "enjoy", "into", "fun"])
    }

    /// Sentences of `text` (split after `.`, `!` and `?`).
    static func sentences(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ch == "." || ch == "!" || ch == "?" {
                let s = current.trimmingSpaces
                if !s.isEmpty { out.append(s) }
                current = ""
            }
        }
        let rest = current.trimmingSpaces
        if !rest.isEmpty { out.append(rest) }
        return out
    }

    static func normalised(_ sentence: String) -> String { TextTools.words(sentence).joined(separator: " ") }

    /// `text` as a sentence: trimmed, ending in punctuation.
    static func sentence(_ text: String) -> String {
        let t = text.trimmingSpaces
        guard let end = t.last else { return t }
        return ".!?".contains(end) ? t : t + "."
    }

    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: return "many things"
        case 1: return items[0]
        default: return items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
    }

    static func bestMemory(_ memories: [IdentityModel.Memory], query: [String], avoiding used: Set<String>, seed: UInt64) -> IdentityModel.Memory? {
        // The caller's own memory (the corpus's may be a canonically equal other spelling).
        MemoryCorpus.of(memories).best(query: query, avoiding: used) { tiebreak($0, seed: seed) }.map { memories[$0] }
    }

    static func pick(_ options: [String], _ index: Int, seed: UInt64) -> String {
        options[Int(tiebreak(index, seed: seed) % UInt64(options.count))]
    }

    static func tiebreak(_ index: Int, seed: UInt64) -> UInt64 {
        var x = seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        return x ^ (x >> 31)
    }

    static func percent(_ score: Double) -> String { "\(Int((score * 100).rounded()))%" }
}

/// A few cues from the free-text `style` of the identity model.
private struct Style {
    var warm = false, concise = false, playful = false, precise = false
    init(_ text: String) {
        let words = Set(TextTools.words(text))
        warm = !words.isDisjoint(with: ["warm", "friendly", "kind", "gentle"])
        concise = !words.isDisjoint(with: ["concise", "short", "brief", "terse"])
        playful = !words.isDisjoint(with: ["playful", "funny", "witty", "easy"])
        precise = !words.isDisjoint(with: ["precise", "thoughtful", "rigorous", "careful"])
    }
}

private extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }

    /// Lowercases the first letter unless the sentence starts with "I" (or a name).
    func lowercasedFirst(startsWithI original: String) -> String {
        guard let first = first, !hasPrefix("I "), !hasPrefix("I'"), first.isUppercase else { return self }
        let word = prefix { !$0.isWhitespace }
        // A capitalised word other than the first of a sentence is a name: keep it.
        if TextTools.words(String(word)).first.map({ ["my", "the", "a", "an", "our", "we", "last", "every"].contains($0) }) != true { return self }
        return first.lowercased() + dropFirst()
    }
}
