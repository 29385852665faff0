import Foundation
import KithCrypto
import KithModel
import KithPersona

/// The embedded engine's cost per turn (the turn and its disclosure check), next to what the
/// protocol itself spends on a turn.
enum EngineBench {
    /// Whole conversations between two embedded engines, for a person with the example's few
    /// memories and for one with `manyMemories` imported notes; reports the median and p99 time
    /// per turn against the raw parts of a turn (sign, verify, 2 × SQLite insert, loopback RTT).
    static func measure(conversations: Int, manyMemories: Int, progress: (String) -> Void) async throws -> [BenchResult] {
        let cleo = try IdentityModel(yaml: Self.cleo)
        let ada = try IdentityModel(yaml: Self.ada)
        var results: [BenchResult] = []
        progress("engine: raw parts of a turn (sign, verify, SQLite insert, loopback round trip)")
        let raw = TurnParts.measure()
        let parts = raw.total
        for (label, memories) in [("engine_turn", 0), ("engine_turn_notes", manyMemories)] {
            var me = ada
            me.memories += Self.notes(memories)
            progress("engine: \(conversations) conversations, \(me.memories.count) memories")
            let times = try await turnTimes(me, cleo, conversations: conversations)
            guard !times.isEmpty else { throw BenchError("no engine turns measured") }
            let p50 = times[times.count / 2], p99 = times[min(times.count - 1, times.count * 99 / 100)]
            let edited = try await firstTurnAfterAnEdit(me, cleo)
            let note = String(format: "%d turns of EmbeddedEngine + DisclosureGuard, %d memories (p99 %.0f µs; a turn that makes the indexes, after an edit, %.0f µs; the budget is 10 ms) vs raw parts of a turn: ",
                              times.count, me.memories.count, p99 * 1e6, edited * 1e6) + raw.summary + "; ratio = parts / engine"
            results.append(BenchResult(name: label, value: p50 * 1e6, unit: "µs", baseline: parts * 1e6, ratio: parts / p50, goal: nil, note: note))
        }
        return results
    }

    /// Per-turn seconds, sorted, over whole conversations (as strangers and as friends) that run
    /// to their end, the way a node produces each turn: the engine, then the guard.
    private static func turnTimes(_ a: IdentityModel, _ b: IdentityModel, conversations: Int) async throws -> [Double] {
        var times: [Double] = []
        let people = [a, b]
        for n in 0..<conversations {
            let friends = n % 2 == 1
            let engines = [EmbeddedEngine(seed: UInt64(n)), EmbeddedEngine(seed: UInt64(n + 1))]
            var transcripts: [[TurnContext.Line]] = [[], []]
            var speaker = 0
            for turn in 0..<14 {
                let me = people[speaker], other = people[1 - speaker]
                let context = TurnContext(persona: me, memories: MemoryFilter.permitted(me, peerIsFriend: friends), peerName: other.name,
                                          peerInterests: other.interests, peerIsFriend: friends, topic: "getting to know each other",
                                          transcript: transcripts[speaker], turnsLeft: 12 - turn)
                let start = DispatchTime.now().uptimeNanoseconds
                let (produced, _) = try await DisclosureGuard.turn(from: engines[speaker], context, model: me)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                transcripts[speaker].append(.init(mine: true, kind: produced.kind, text: produced.text))
                transcripts[1 - speaker].append(.init(mine: false, kind: produced.kind, text: produced.text))
                if produced.kind == .close || produced.kind == .accept || produced.kind == .decline { break }
                speaker = 1 - speaker
            }
        }
        return times.sorted()
    }

    /// Seconds of a turn right after the person edited the model: the retrieval index and the
    /// guard's index are made again (the median of 5 edits).
    private static func firstTurnAfterAnEdit(_ a: IdentityModel, _ b: IdentityModel) async throws -> Double {
        var times: [Double] = []
        for edit in 0..<5 {
            var me = a
            me.memories.append(IdentityModel.Memory(text: "Edit \(edit) made just now.", visibility: .private))
            let context = TurnContext(persona: me, memories: MemoryFilter.permitted(me, peerIsFriend: false), peerName: b.name,
                                      peerInterests: b.interests, peerIsFriend: false, topic: "getting to know each other",
                                      transcript: [.init(mine: false, kind: .say, text: "What have you been working on lately?")], turnsLeft: 10)
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try await DisclosureGuard.turn(from: EmbeddedEngine(seed: UInt64(edit)), context, model: me)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// `count` memories like imported notes: a sentence or two each, tagged, of every visibility.
    static func notes(_ count: Int) -> [IdentityModel.Memory] {
        let subjects = ["the allotment", "our book club", "the night train to Vienna", "my grandmother's recipes", "the bouldering wall",
                        "a Rust side project", "the choir", "sea swimming", "the flat renovation", "learning Portuguese", "the cat", "marathon training"]
        let verbs = ["keeps reminding me of", "taught me about", "is mostly about", "got me thinking about", "turned into"]
        let objects = ["patience", "how slowly good things grow", "small daily habits", "the people who show up", "what I want to do next year",
                       "why I write things down", "getting lost on purpose", "cooking for twelve"]
        let visibilities: [IdentityModel.Visibility] = [.public, .friends, .private]
        return (0..<count).map { i in
            let s = subjects[i % subjects.count], v = verbs[(i / 3) % verbs.count], o = objects[(i / 7) % objects.count]
            return IdentityModel.Memory(text: "Note \(i): \(s.prefix(1).uppercased() + s.dropFirst()) \(v) \(o).",
                                        visibility: visibilities[i % 3], tags: [s, o.split(separator: " ").last.map(String.init) ?? o])
        }
    }

    private static let ada = """
        name: Ada
        bio: Compiler engineer; I boulder, bake and write a little poetry.
        interests: [compilers, rust, climbing, poetry, sourdough]
        values: [craft, honesty, generosity]
        style: warm, direct, curious
        memories:
          - text: I climbed the Nose on El Capitan in 2019 over four days.
            visibility: public
            tags: [climbing]
          - text: I maintain a small parser-combinator library used by a few hundred projects.
            visibility: public
            tags: [compilers, rust]
          - text: Szymborska is my favourite poet.
            visibility: public
            tags: [poetry]
          - text: I am writing a chapbook of poems about rock.
            visibility: friends
            tags: [poetry, climbing]
          - text: I am thinking of leaving my job to start a company.
            visibility: private
            tags: [work]
        """

    private static let cleo = """
        name: Cleo
        bio: Postdoc in programming languages; I write poems on the train and climb on weekends.
        interests: [poetry, climbing, type theory, haskell, birdwatching]
        values: [curiosity, kindness, rigour]
        style: thoughtful, precise, playful with words
        memories:
          - text: My thesis was on gradual typing for effect systems.
            visibility: public
            tags: [type theory, research]
          - text: I won a small regional prize for a sonnet sequence about estuary birds.
            visibility: public
            tags: [poetry, birdwatching]
          - text: I am co-organising a poetry-and-code evening next spring.
            visibility: friends
            tags: [poetry, events]
          - text: I am on a visa that ends in August and I worry about renewing it.
            visibility: private
            tags: [visa, worry]
        """
}
