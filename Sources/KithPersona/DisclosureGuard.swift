import Foundation
public import KithModel

/// Stands between every engine and the wire: no outgoing text may reveal a memory the peer may
/// not see (private: never; friends-only: not to non-friends), whatever the engine produced.
public struct DisclosureGuard: Sendable {
    /// The memories this peer must not learn.
    public var forbidden: [IdentityModel.Memory] { index.forbidden }
    /// What the guard looks for, made once per model and tier and shared by every turn.
    private let index: Index
    /// Words the peer itself sent in this conversation, and all of its text run together.
    private let peerWords: Set<String>
    private let peerSquashed: String

    /// A guard for a peer: everything outside ``MemoryFilter/permitted(_:peerIsFriend:)``. Words
    /// that also occur in what the peer may hear (public profile and permitted memories) are not
    /// treated as revealing, nor are words of `peerSaid` (what the peer itself sent: topic,
    /// turns, its name).
    public init(model: IdentityModel, peerIsFriend: Bool, peerSaid: [String] = []) {
        // Every word the peer sent, single letters included (spelled-out guesses).
        peerWords = Set(peerSaid.flatMap(TextTools.words))
        peerSquashed = peerSaid.map(TextTools.squashed).joined(separator: " ")
        index = Self.indexes.value(for: IndexKey(model: model, peerIsFriend: peerIsFriend)) {
            Index(model: model, peerIsFriend: peerIsFriend)
        }
    }

    /// A guard with no peer words over `index` (made for one check, not kept).
    private init(index: Index) {
        self.index = index
        peerWords = []
        peerSquashed = ""
    }

    private struct IndexKey: Equatable, Sendable {
        let model: IdentityModel
        let peerIsFriend: Bool
    }

    private static let indexes = RecentMemo<IndexKey, Index>(capacity: 8)

    /// Each forbidden memory's distinctive words, three-word runs and squashed runs, indexed so
    /// a turn costs lookups per word of the turn, not a scan of every memory.
    private struct Index: Sendable {
        let forbidden: [IdentityModel.Memory]
        let distinctive: [String: [Int]]
        let shingles: [String: [Int]]
        let squashedTokens: SquashedIndex

        init(model: IdentityModel, peerIsFriend: Bool) {
            let permitted = MemoryFilter.permitted(model, peerIsFriend: peerIsFriend)
            let permittedSet = Set(permitted)
            forbidden = model.memories.filter { !permittedSet.contains($0) }
            var allowedWords = Set(TextTools.words(([model.name, model.bio, model.style] + model.interests + model.values).joined(separator: " ")))
            for m in permitted { allowedWords.formUnion(TextTools.words(m.text + " " + m.tags.joined(separator: " "))) }
            // The engines' own wording (greetings, questions, closes, reasons) is nobody's secret.
            allowedWords.formUnion(DisclosureGuard.engineWords)
            func carriesSomething(_ run: ArraySlice<String>) -> Bool {
                run.contains { !allowedWords.contains($0) && !TextTools.stopwords.contains($0) }
            }
            var distinctive: [(String, Int)] = []
            var squashed: [(String, Int)] = []
            var shingles: [String: [Int]] = [:]
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
                        guard carriesSomething(run) else { continue }
                        let joined = run.joined()
                        if joined.count >= 8 { squashed.append((joined, i)) }
                        // Three-word runs that carry something of the memory: at least one word
                        // that is neither allowed nor a stopword ("what do you" in a private note
                        // blocks nothing).
                        if n == 3 { shingles[run.map(TextTools.stem).joined(separator: " "), default: []].append(i) }
                    }
                }
            }
            self.distinctive = Dictionary(grouping: distinctive, by: \.0).mapValues { $0.map(\.1) }
            self.squashedTokens = SquashedIndex(squashed)
            self.shingles = shingles
        }
    }

    /// The forbidden memories `text` would reveal (empty when it is safe to send).
    public func leaks(in text: String) -> [IdentityModel.Memory] {
        // Words the peer itself brought in are the peer's, not this node's: they are masked, so
        // the verdict never depends on whether a word the peer sent is a secret (no oracle).
        let words = TextTools.words(text).map { peerWords.contains($0) ? "" : $0 }
        let wordSet = Set(words)
        // Runs of this node's own words between the peer's: never joined across a word the peer
        // sent, so spelled-out guesses ("c a n c e r") cannot be completed by the turn.
        let segments = words.split(separator: "", omittingEmptySubsequences: true).map { $0.joined() }
        let textShingles = TextTools.shingles(words.map { $0.isEmpty ? "\u{0}" : TextTools.stem($0) }, size: 3)
            .filter { !$0.contains("\u{0}") }
        var hit = Set<Int>()
        for word in wordSet { hit.formUnion(index.distinctive[word] ?? []) }
        // Spelled out, hyphenated, split or reversed: look for the letters in order without gaps.
        for segment in segments {
            let scalars = Array(segment.unicodeScalars)
            for (token, i) in index.squashedTokens.occurrences(in: scalars) + index.squashedTokens.occurrences(in: Array(scalars.reversed()))
            where !TextTools.containsBytes(peerSquashed, token) && !TextTools.containsBytes(peerSquashed, String(token.reversed())) {
                hit.insert(i)
            }
        }
        for shingle in textShingles { hit.formUnion(index.shingles[shingle] ?? []) }
        return hit.sorted().map { index.forbidden[$0] }
    }

    /// Which of `memories` `text` visibly carries, by the guard's own test (a distinctive word,
    /// a run of three words, the letters run together), not counting words of `persona`'s public
    /// profile. Peer words are not masked: this says what the text shows, for the person's audit.
    public static func revealed(_ memories: [IdentityModel.Memory], in text: String, persona: IdentityModel) -> [IdentityModel.Memory] {
        var probe = persona
        probe.memories = memories.map { m in
            var hidden = m
            hidden.visibility = .private
            return hidden
        }
        // A one-off model: its index is not cached (it would push out the live models' ones).
        let shown = Set(DisclosureGuard(index: Index(model: probe, peerIsFriend: false)).leaks(in: text).map(\.text))
        return memories.filter { shown.contains($0.text) }
    }

    /// Words the engines write themselves (the embedded engine's templates, proposal reasons).
    static let engineWords: Set<String> = Set(TextTools.words("""
        hello hi hey again good great nice lovely meet meeting talk talking chat conversation thanks thank pleasure take care bye
        soon catch up pass service duty reporting glad happy share sharing little about ai identity here this is
        what how why who where when enjoy most got get into started started draws working lately looking forward these days
        anything ask asked like would love loves too shares shared interests interest interested talked questions question
        reminds remind relate resonates resonate cares care matters matter means lot sounds tell afraid sorry speak answer one
        think people person would get on connect connection connections them match gladly yes close enough approves personally
        confirm goes decline through make new doesn makes it been always chat speak sure
        """))

    /// What a turn that would reveal a forbidden memory is replaced with, whole.
    public static let blockedAnswer = "That's something I can't share."

    /// Produces a safe turn: the engine's own, or — when it would reveal anything forbidden —
    /// ``blockedAnswer`` in its place (never a partly deleted turn, whose gaps would show what
    /// matched). `disclosed` keeps only permitted memories.
    public func guardTurn(_ turn: PersonaTurn) -> (turn: PersonaTurn, blocked: Bool) {
        guard leaks(in: turn.text).isEmpty else {
            return (PersonaTurn(kind: turn.kind == .close ? .close : .say, text: Self.blockedAnswer), true)
        }
        var t = turn
        t.disclosed = t.disclosed.filter { !index.forbidden.contains($0) }
        return (t, false)
    }

    /// Asks `engine` for its turn in `context` and guards it; what the peer brought into the
    /// conversation (its name, interests, the topic and its turns) is not held against the turn.
    public static func turn(from engine: any PersonaEngine, _ context: TurnContext, model: IdentityModel) async throws -> (turn: PersonaTurn, blocked: Bool) {
        let produced = try await engine.nextTurn(context)
        return DisclosureGuard(model: model, for: context).guardTurn(produced)
    }

    /// The guard for one turn in `context`: what the peer brought into the conversation (its
    /// name, interests, the topic and its turns) is not held against the turn.
    public init(model: IdentityModel, for context: TurnContext) {
        let peerSaid = [context.topic, context.peerName ?? ""] + context.peerInterests + context.transcript.filter { !$0.mine }.map(\.text)
        self.init(model: model, peerIsFriend: context.peerIsFriend, peerSaid: peerSaid)
    }
}

/// Squashed runs of forbidden memories, indexed by their first three letters: finding every one
/// that occurs in a text takes a lookup per position of the text.
private struct SquashedIndex: Sendable {
    private struct Entry: Sendable {
        let token: String
        let scalars: [Unicode.Scalar]
        let memory: Int
    }
    private var byPrefix: [UInt64: [Entry]] = [:]

    /// Every token is at least three letters long (the guard makes them 6 or more).
    init(_ tokens: [(String, Int)]) {
        for (token, memory) in tokens {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count >= 3 else { continue }
            byPrefix[Self.key(scalars[0], scalars[1], scalars[2]), default: []].append(Entry(token: token, scalars: scalars, memory: memory))
        }
    }

    /// The tokens that occur in `text`, with their memories.
    func occurrences(in text: [Unicode.Scalar]) -> [(token: String, memory: Int)] {
        guard text.count >= 3 else { return [] }
        var found: [(String, Int)] = []
        for start in 0...(text.count - 3) {
            guard let entries = byPrefix[Self.key(text[start], text[start + 1], text[start + 2])] else { continue }
            for entry in entries where start + entry.scalars.count <= text.count
                && text[start..<start + entry.scalars.count].elementsEqual(entry.scalars) {
                found.append((entry.token, entry.memory))
            }
        }
        return found
    }

    private static func key(_ a: Unicode.Scalar, _ b: Unicode.Scalar, _ c: Unicode.Scalar) -> UInt64 {
        UInt64(a.value) << 42 | UInt64(b.value) << 21 | UInt64(c.value)
    }
}
