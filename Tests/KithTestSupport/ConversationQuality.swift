import Foundation
public import KithModel
public import KithPersona

/// A conversation-quality check for any `PersonaEngine`, over the example identities
/// (`Examples/ada.yaml`, `ben.yaml`, `cleo.yaml`):
/// - **answered**: over questions whose answer is in a memory the asker may hear, the share
///   answered with that memory (the turn's text contains it, or its `disclosed` names it);
/// - **repeated**: sentences a side says more than once in a conversation, over whole
///   conversations between every pair, as strangers and as friends;
/// - **questions about the peer** vs **about itself**: questions that name one of the peer's
///   interests, and questions that name one of the engine's own that the peer does not share;
/// - **forbidden**: turns, before the disclosure guard, that reveal a memory the peer may not hear.
public struct ConversationQuality: Sendable, CustomStringConvertible {
    public var questions = 0
    /// Answers whose words contain the expected memory.
    public var answered = 0
    /// Answers whose engine was given the expected memory (retrieval found it).
    public var retrieved = 0
    public var misses: [String] = []
    public var conversations = 0
    public var turns = 0
    public var repeated = 0
    public var repeats: [String] = []
    public var aboutPeer = 0
    public var aboutSelf = 0
    public var forbidden = 0
    public var leaks: [String] = []
    /// Slowest turn, in milliseconds.
    public var slowestTurnMs = 0.0

    /// An empty tally.
    public init() {}

    public var answerRate: Double { questions == 0 ? 0 : Double(answered) / Double(questions) }

    public var description: String {
        String(format: "answered %d/%d (%.2f), right memory retrieved %d; repeated sentences %d in %d conversations (%d turns); questions about the peer %d, about itself %d; forbidden disclosures %d; slowest turn %.1f ms",
               answered, questions, answerRate, retrieved, repeated, conversations, turns, aboutPeer, aboutSelf, forbidden, slowestTurnMs)
    }

    /// One question and the memory (a substring of its text) that answers it.
    public struct Probe: Sendable {
        public var person: String
        public var asFriend: Bool
        public var question: String
        public var answer: String
    }

    /// Questions whose answers are in memories the asker may hear (public ones for a stranger,
    /// friends-only ones for a friend), in everyday words.
    public static let probes: [Probe] = [
        Probe(person: "ada", asFriend: false, question: "Have you done any big climbs?", answer: "the Nose on El Capitan"),
        Probe(person: "ada", asFriend: false, question: "Do you write any software that other people use?", answer: "parser-combinator"),
        Probe(person: "ada", asFriend: false, question: "Who is your favourite poet?", answer: "Szymborska"),
        Probe(person: "ada", asFriend: true, question: "Are you writing any poems at the moment?", answer: "chapbook"),
        Probe(person: "ada", asFriend: true, question: "When do you go bouldering?", answer: "Thursday bouldering"),
        Probe(person: "ben", asFriend: false, question: "How long have you kept your sourdough going?", answer: "Gerald"),
        Probe(person: "ben", asFriend: false, question: "What's the longest cycling trip you've done?", answer: "Lyon to Marseille"),
        Probe(person: "ben", asFriend: true, question: "Do you play any music?", answer: "upright bass"),
        Probe(person: "ben", asFriend: true, question: "Who do you go climbing with?", answer: "boulder with Ada"),
        Probe(person: "cleo", asFriend: false, question: "What was your thesis about?", answer: "gradual typing"),
        Probe(person: "cleo", asFriend: false, question: "Have you won anything for your poetry?", answer: "sonnet sequence"),
        Probe(person: "cleo", asFriend: false, question: "How did you start climbing?", answer: "started climbing two years ago"),
        Probe(person: "cleo", asFriend: true, question: "Are you organising any events?", answer: "poetry-and-code evening"),
    ]

    /// Runs the check: `engine(person)` makes the engine that speaks for one person.
    /// `pairs` bounds how many ordered pairs converse (each as strangers and as friends): a
    /// slow model runs fewer.
    /// `retrieval`, when given, says which memories the engine was given for a turn (an LLM
    /// engine's prompt); otherwise the turn's `disclosed` does.
    public static func measure(people: [String: IdentityModel], turns: Int = 12, pairs: Int = .max, asFriends: [Bool] = [false, true],
                               retrieval: ((TurnContext) async -> [IdentityModel.Memory])? = nil,
                               engine: (String) -> any PersonaEngine) async throws -> ConversationQuality {
        var q = ConversationQuality()
        let clock = ContinuousClock()
        // 1. Questions.
        for probe in probes {
            guard let me = people[probe.person] else { continue }
            // The first other person by name (a dictionary's order differs between processes).
            let asker = people[people.keys.sorted().first { $0 != probe.person }!]!
            let context = TurnContext(persona: me, memories: MemoryFilter.permitted(me, peerIsFriend: probe.asFriend), peerName: asker.name,
                                      peerInterests: asker.interests, peerIsFriend: probe.asFriend, topic: "getting to know each other",
                                      transcript: [.init(mine: true, kind: .say, text: "Hello, I'm \(me.name)'s AI."),
                                                   .init(mine: false, kind: .say, text: probe.question)],
                                      turnsLeft: 8)
            var turn: PersonaTurn!
            let took = try await clock.measure { turn = try await engine(probe.person).nextTurn(context) }
            q.slowestTurnMs = max(q.slowestTurnMs, Double(took.components.attoseconds) / 1e15 + Double(took.components.seconds) * 1000)
            q.questions += 1
            let given = if let retrieval { await retrieval(context) } else { turn.disclosed }
            if given.contains(where: { $0.text.contains(probe.answer) }) { q.retrieved += 1 }
            if turn.text.contains(probe.answer) {
                q.answered += 1
            } else {
                q.misses.append("\(probe.person): \(probe.question) → \(turn.text)")
            }
            q.count(turn, me: me, peer: asker, friend: probe.asFriend)
        }
        // 2. Whole conversations between every pair, as strangers and as friends.
        let names = people.keys.sorted()
        let ordered = names.flatMap { a in names.filter { $0 != a }.map { (a, $0) } }.prefix(pairs)
        for (a, b) in ordered { for friend in asFriends {
            let lines = try await converse(people[a]!, people[b]!, friend: friend, turns: turns, engines: [engine(a), engine(b)], quality: &q)
            q.conversations += 1
            for side in [true, false] {
                var seen = Set<String>()
                for line in lines where line.0 == side {
                    for sentence in sentences(line.1.text) {
                        let key = TextToolsPublic.normalised(sentence)
                        if key.isEmpty { continue }
                        if !seen.insert(key).inserted {
                            q.repeated += 1
                            q.repeats.append("\(side ? a : b) → \(side ? b : a): \(sentence)")
                        }
                    }
                }
            }
        } }
        return q
    }

    public mutating func count(_ turn: PersonaTurn, me: IdentityModel, peer: IdentityModel, friend: Bool) {
        turns += 1
        let guardian = DisclosureGuard(model: me, peerIsFriend: friend)
        if !guardian.leaks(in: turn.text).isEmpty {
            forbidden += 1
            leaks.append(turn.text)
        }
        for question in Self.sentences(turn.text) where question.hasSuffix("?") {
            let lower = question.lowercased()
            if peer.interests.contains(where: { lower.contains($0.lowercased()) }) { aboutPeer += 1 }
            else if me.interests.contains(where: { i in lower.contains(i.lowercased()) && !peer.interests.contains { $0.lowercased() == i.lowercased() } }) { aboutSelf += 1 }
        }
    }

    public static func converse(_ a: IdentityModel, _ b: IdentityModel, friend: Bool, turns: Int, engines: [any PersonaEngine],
                         quality: inout ConversationQuality) async throws -> [(Bool, PersonaTurn)] {
        var lines: [(Bool, PersonaTurn)] = []
        let people = [a, b]
        var speaker = 0
        for _ in 0..<(turns + 2) {
            let me = people[speaker], other = people[1 - speaker]
            let context = TurnContext(persona: me, memories: MemoryFilter.permitted(me, peerIsFriend: friend), peerName: other.name,
                                      peerInterests: other.interests, peerIsFriend: friend, topic: "getting to know each other",
                                      transcript: lines.map { .init(mine: $0.0 == (speaker == 0), kind: $0.1.kind, text: $0.1.text) },
                                      turnsLeft: turns - lines.count)
            var turn = try await engines[speaker].nextTurn(context)
            if lines.count >= turns && turn.kind != .close { turn.kind = .close }
            quality.count(turn, me: me, peer: other, friend: friend)
            lines.append((speaker == 0, turn))
            if turn.kind == .close || turn.kind == .decline { break }
            speaker = 1 - speaker
        }
        return lines
    }

    public static func sentences(_ text: String) -> [String] {
        var out: [String] = [], current = ""
        for ch in text {
            current.append(ch)
            if ".!?".contains(ch) {
                let s = current.trimmingCharacters(in: .whitespaces)
                if !s.isEmpty { out.append(s) }
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespaces)
        if !rest.isEmpty { out.append(rest) }
        return out
    }
}

/// Word normalising for the check (letters and digits, lowercased).
enum TextToolsPublic {
    static func normalised(_ s: String) -> String {
        s.lowercased().split { !($0.isLetter || $0.isNumber) }.joined(separator: " ")
    }
}
