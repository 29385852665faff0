import KithModel
import Foundation

/// Okapi BM25 ranking over a small set of documents (memories: text plus tags).
struct BM25 {
    private let documents: [[String]]
    private let documentFrequency: [String: Int]
    private let averageLength: Double
    private static var k1: Double { 1.2 }
    private static var b: Double { 0.75 }

    init(_ documents: [[String]]) {
        self.documents = documents
        var df: [String: Int] = [:]
        for doc in documents { for term in Set(doc) { df[term, default: 0] += 1 } }
        documentFrequency = df
        averageLength = documents.isEmpty ? 1 : Double(documents.map(\.count).reduce(0, +)) / Double(documents.count)
    }

    /// Score of each document for `query`.
    func scores(_ query: [String]) -> [Double] {
        let n = Double(documents.count)
        let queryTerms = Set(query)
        // Sorted: a sum in a fixed order, so near-ties resolve the same way in every process.
        let ordered = queryTerms.sorted()
        return documents.map { doc in
            guard doc.contains(where: queryTerms.contains) else { return 0 }
            var tf: [String: Int] = [:]
            for t in doc where queryTerms.contains(t) { tf[t, default: 0] += 1 }
            var score = 0.0
            for term in ordered {
                guard let f = tf[term], let df = documentFrequency[term] else { continue }
                score += Self.weight(idf: Self.idf(documents: n, holding: Double(df)), count: f, length: doc.count, averageLength: averageLength)
            }
            return score
        }
    }

    /// The inverse document frequency of a term `holding` of `documents` documents hold.
    static func idf(documents n: Double, holding d: Double) -> Double {
        log(1 + (n - d + 0.5) / (d + 0.5))
    }

    /// A term's share of a document's score: it occurs `count` times in a document of `length`
    /// terms.
    @inline(__always)
    static func weight(idf: Double, count: Int, length: Int, averageLength: Double) -> Double {
        let freq = Double(count)
        let lengthNorm: Double = 1 - b + b * Double(length) / averageLength
        let numerator: Double = idf * freq * (k1 + 1)
        return numerator / (freq + k1 * lengthNorm)
    }
}

extension BM25 {
    /// `memories` ordered by relevance to `query` (memory text and tags), most relevant first;
    /// ties keep their order.
    static func rank(_ memories: [IdentityModel.Memory], query: String) -> [IdentityModel.Memory] {
        let bm25 = BM25(memories.map(TextTools.terms(of:)))
        let scores = bm25.scores(TextTools.terms(query))
        return memories.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.map { memories[$0] }
    }
}

/// A list of memories indexed for BM25 once (each memory's terms, and per term the memories that
/// hold it), so ranking the ones not yet told costs a lookup per query term, not a pass over
/// every memory. Scores equal ``BM25`` over the candidates (the same ``BM25/weight(idf:count:length:averageLength:)``,
/// summed in the same order), bit for bit.
struct MemoryCorpus: Sendable {
    struct Posting: Sendable {
        let memory: Int
        let count: Int
    }
    let memories: [IdentityModel.Memory]
    private let lengths: [Int]
    private let totalLength: Int
    private let postings: [String: [Posting]]
    private let indicesByText: [String: [Int]]

    init(_ memories: [IdentityModel.Memory]) {
        self.memories = memories
        var lengths: [Int] = []
        var postings: [String: [Posting]] = [:]
        var indicesByText: [String: [Int]] = [:]
        for (i, memory) in memories.enumerated() {
            let terms = TextTools.terms(of: memory)
            lengths.append(terms.count)
            var counts: [String: Int] = [:]
            for term in terms { counts[term, default: 0] += 1 }
            for (term, count) in counts { postings[term, default: []].append(Posting(memory: i, count: count)) }
            indicesByText[memory.text, default: []].append(i)
        }
        self.lengths = lengths
        totalLength = lengths.reduce(0, +)
        self.postings = postings
        self.indicesByText = indicesByText
    }

    /// The corpus of `memories`, reused while conversations keep asking about the same lists.
    static func of(_ memories: [IdentityModel.Memory]) -> MemoryCorpus {
        recent.value(for: memories) { MemoryCorpus(memories) }
    }

    private static let recent = RecentMemo<[IdentityModel.Memory], MemoryCorpus>(capacity: 8)

    /// The index of the memory that best matches `query` among those whose text is not in
    /// `used`; ties go to the smallest `tiebreak` of the memory's position among those
    /// candidates. Nil when no candidate shares a term with the query.
    func best(query: [String], avoiding used: Set<String>, tiebreak: (Int) -> UInt64) -> Int? {
        let usedIndices = used.flatMap { indicesByText[$0] ?? [] }.sorted()
        let usedSet = Set(usedIndices)
        let n = memories.count - usedSet.count
        guard n > 0, !query.isEmpty else { return nil }
        let candidateLength = totalLength - usedSet.reduce(0) { $0 + lengths[$1] }
        let averageLength = Double(candidateLength) / Double(n)
        var scores: [Int: Double] = [:]
        // Sorted: a sum in a fixed order, so near-ties resolve the same way in every process.
        for term in Set(query).sorted() {
            let holding = (postings[term] ?? []).filter { !usedSet.contains($0.memory) }
            guard !holding.isEmpty else { continue }
            let idf = BM25.idf(documents: Double(n), holding: Double(holding.count))
            for posting in holding {
                scores[posting.memory, default: 0] += BM25.weight(idf: idf, count: posting.count, length: lengths[posting.memory], averageLength: averageLength)
            }
        }
        // A memory's position among the candidates: its index less the used ones before it.
        func candidatePosition(_ memory: Int) -> Int {
            var low = 0, high = usedIndices.count
            while low < high {
                let mid = (low + high) / 2
                if usedIndices[mid] < memory { low = mid + 1 } else { high = mid }
            }
            return memory - low
        }
        return scores.filter { $0.value > 0 }.max { x, y in
            if x.value != y.value { return x.value < y.value }
            let (tx, ty) = (tiebreak(candidatePosition(x.key)), tiebreak(candidatePosition(y.key)))
            // Equal tiebreaks (never, for a bijective one) fall to the earlier memory.
            return tx != ty ? tx > ty : x.key > y.key
        }?.key
    }
}
