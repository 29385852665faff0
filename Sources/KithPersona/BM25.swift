import KithModel
import Foundation

/// Okapi BM25 ranking over a small set of documents (memories: text plus tags).
struct BM25 {
    private let documents: [[String]]
    private let documentFrequency: [String: Int]
    private let averageLength: Double
    private let k1: Double = 1.2
    private let b: Double = 0.75

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
        return documents.map { doc in
            var tf: [String: Int] = [:]
            for t in doc { tf[t, default: 0] += 1 }
            var score = 0.0
            // Sorted: a sum in a fixed order, so near-ties resolve the same way in every process.
            for term in Set(query).sorted() {
                guard let f = tf[term], let df = documentFrequency[term] else { continue }
                let d = Double(df)
                let idf: Double = log(1 + (n - d + 0.5) / (d + 0.5))
                let freq = Double(f)
                let lengthNorm: Double = 1 - b + b * Double(doc.count) / averageLength
                let numerator: Double = idf * freq * (k1 + 1)
                score += numerator / (freq + k1 * lengthNorm)
            }
            return score
        }
    }
}

extension BM25 {
    /// `memories` ordered by relevance to `query` (memory text and tags), most relevant first;
    /// ties keep their order.
    static func rank(_ memories: [IdentityModel.Memory], query: String) -> [IdentityModel.Memory] {
        let bm25 = BM25(memories.map { TextTools.terms($0.text + " " + $0.tags.joined(separator: " ")) })
        let scores = bm25.scores(TextTools.terms(query))
        return memories.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.map { memories[$0] }
    }
}
