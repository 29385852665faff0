import KithModel
@testable import KithPersona
import Testing

/// The indexed retrieval and the memos a turn relies on give exactly what the plain
/// computations give: an index that picked another memory would change what the AI says.
@Suite("Retrieval index")
struct RetrievalIndexTests {
    /// Memories sharing words in overlapping ways, duplicates included, so scores tie and differ.
    static let vocabulary = ["garden", "bread", "sourdough", "choir", "rust", "compiler", "train", "vienna", "swimming", "cat",
                             "poetry", "climbing", "recipes", "patience", "habits", "portuguese", "marathon", "renovation"]

    static func memories(_ count: Int, seed: UInt64) -> [IdentityModel.Memory] {
        var x = seed
        func next(_ bound: Int) -> Int {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((x >> 33) % UInt64(bound))
        }
        return (0..<count).map { _ in
            let words = (0..<(1 + next(7))).map { _ in vocabulary[next(vocabulary.count)] }
            let tags = (0..<next(3)).map { _ in vocabulary[next(vocabulary.count)] }
            return IdentityModel.Memory(text: "I like " + words.joined(separator: " and ") + ".", visibility: .public, tags: tags)
        }
    }

    /// The plain ranking: BM25 over the memories not yet told, the largest score, ties by seed.
    static func reference(_ memories: [IdentityModel.Memory], query: [String], used: Set<String>, seed: UInt64) -> IdentityModel.Memory? {
        let candidates = memories.filter { !used.contains($0.text) }
        guard !candidates.isEmpty, !query.isEmpty else { return nil }
        let scores = BM25(candidates.map { TextTools.terms($0.text + " " + $0.tags.joined(separator: " ")) }).scores(query)
        let best = scores.indices.max { a, b in
            scores[a] != scores[b] ? scores[a] < scores[b] : tiebreak(a, seed: seed) > tiebreak(b, seed: seed)
        }!
        return scores[best] > 0 ? candidates[best] : nil
    }

    /// A seeded tiebreak like the engine's: a well-mixed hash of position and seed, so an index
    /// that numbered candidates differently would break ties differently.
    static func tiebreak(_ index: Int, seed: UInt64) -> UInt64 {
        var x = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        return x ^ (x >> 27)
    }

    @Test func theIndexPicksTheMemoryPlainBM25Picks() async {
        var compared = 0, found = 0, ties = 0
        // Kept small: a synchronous test holds one of the cooperative pool's threads (two here).
        for seed in UInt64(1)...12 {
            await Task.yield()
            let memories = Self.memories(Int(seed) * 7 % 40 + 1, seed: seed)
            // Single words tie often (memories of one length holding the word once).
            let queries = Self.vocabulary.map { [$0] } + [["bread", "sourdough", "cat"], ["vienna", "train", "train"], ["nothing"], [],
                                                          TextTools.terms(memories[0].text), TextTools.terms("rust compilers and climbing habits")]
            let usedSets: [Set<String>] = [[], [memories[0].text], Set(memories.enumerated().filter { $0.offset % 3 == 1 }.map(\.element.text)),
                                           Set(memories.prefix(memories.count / 2).map(\.text)), Set(memories.map(\.text))]
            for query in queries {
                for used in usedSets {
                    let expected = Self.reference(memories, query: query, used: used, seed: seed)
                    let indexed = MemoryCorpus.of(memories).best(query: query, avoiding: used) { Self.tiebreak($0, seed: seed) }.map { memories[$0] }
                    #expect(indexed == expected, "seed \(seed), query \(query), \(used.count) used")
                    compared += 1
                    if let expected {
                        found += 1
                        let candidates = memories.filter { !used.contains($0.text) }
                        let scores = BM25(candidates.map { TextTools.terms(of: $0) }).scores(query)
                        if scores.filter({ $0 == scores.max() }).count > 1, !expected.text.isEmpty { ties += 1 }
                    }
                }
            }
        }
        #expect(compared == 12 * 24 * 5 && found > 600 && ties > 40, "\(found) of \(compared) comparisons found a memory, \(ties) among ties")
    }

    @Test func asciiAndUnicodeTextTokeniseAlike() {
        for text in ["Hello, World! 42 times", "  don't-stop  ", "ÉCOLE café Zürich", "naïve x ﬁ", "A\u{0}B\tC\nD", "", "...", "日本語 text"] {
            var expected: [String] = []
            var current = ""
            for scalar in text.lowercased().unicodeScalars {
                if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) { current.unicodeScalars.append(scalar) }
                else if !current.isEmpty { expected.append(current); current = "" }
            }
            if !current.isEmpty { expected.append(current) }
            #expect(TextTools.words(text) == expected, "\(text)")
            #expect(TextTools.squashed(text) == expected.joined(), "\(text)")
        }
        #expect(TextTools.contains("spelled quokka7731zebra out", "quokka7731zebra"))
        #expect(!TextTools.contains("quokka", "quokka7731"))
        #expect(TextTools.contains("café crème", "é cr") && !TextTools.contains("cafe", "café"))
    }

    /// The guard's index is shared between turns, but an edited model gets its own: a memory
    /// made private after a turn is guarded in the next one.
    @Test func theGuardSeesAMemoryMadePrivateBetweenTurns() {
        var model = IdentityModel(name: "Ada")
        model.memories = [IdentityModel.Memory(text: "My passport number is XK4471902.", visibility: .public)]
        let text = "Sure: my passport number is XK4471902."
        #expect(DisclosureGuard(model: model, peerIsFriend: false).leaks(in: text).isEmpty)
        model.memories[0].visibility = .private
        #expect(DisclosureGuard(model: model, peerIsFriend: false).leaks(in: text).count == 1)
        #expect(DisclosureGuard(model: model, peerIsFriend: true).leaks(in: text).count == 1)
        model.memories[0].visibility = .friends
        #expect(DisclosureGuard(model: model, peerIsFriend: true).leaks(in: text).isEmpty)
        #expect(DisclosureGuard(model: model, peerIsFriend: false).leaks(in: text).count == 1)
    }

    /// Swift's `==` holds for canonically equal spellings, so the cached index of a memory written
    /// decomposed (NFD) serves the same memory written composed (NFC) after a reload: the guard
    /// must block either spelling in a turn, whichever one made the index.
    @Test func eitherUnicodeSpellingOfAHiddenMemoryIsBlockedWhicheverMadeTheIndex() {
        let composed = "Passwort: B\u{E4}renh\u{F6}hle am See", decomposed = "Passwort: Ba\u{308}renho\u{308}hle am See"
        for (first, second) in [(decomposed, composed), (composed, decomposed)] {
            var a = IdentityModel(name: "Ada"), b = IdentityModel(name: "Ada")
            a.memories = [IdentityModel.Memory(text: first, visibility: .private)]
            b.memories = [IdentityModel.Memory(text: second, visibility: .private)]
            #expect(a == b, "Swift compares the two spellings as equal")
            _ = DisclosureGuard(model: a, peerIsFriend: false)
            for said in ["It's B\u{E4}renh\u{F6}hle.", "It's Ba\u{308}renho\u{308}hle.", "b a\u{308} r e n h o\u{308} h l e"] {
                #expect(!DisclosureGuard(model: b, peerIsFriend: false).leaks(in: said).isEmpty, "\(said.unicodeScalars.count) scalars")
            }
        }
        #expect(TextTools.words(composed) == TextTools.words(decomposed))
        #expect(TextTools.contains("zu B\u{E4}renh\u{F6}hle", "Ba\u{308}renho\u{308}hle"))
    }
}
