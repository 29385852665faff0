import ArgumentParser
import Foundation
import KithBench

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure performance, each figure as a ratio to a baseline measured in the same run.",
        discussion: "Build with `swift build -c release` first; debug figures are not meaningful.")

    @Flag(help: "Print one JSON object {machine, results}.") var json = false
    @Flag(help: "Fewer iterations (a quick look).") var quick = false
    @Option(help: "Run only these groups (comma-separated): \(Benchmarks.groups.joined(separator: ", ")).")
    var only: String?

    func run() async throws {
        let groups = Set((only ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        if let unknown = groups.first(where: { !Benchmarks.groups.contains($0) }) {
            throw ValidationError("unknown benchmark group \"\(unknown)\"; choose from \(Benchmarks.groups.joined(separator: ", "))")
        }
        let report = try await Benchmarks.run(quick: quick, only: groups) { line in printErr("bench: \(line)…") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        for (k, v) in report.machine.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
        print("")
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        print(pad("name", 16) + pad("value", 20) + pad("baseline", 20) + pad("ratio", 8) + "goal")
        for r in report.results {
            let goal = r.goal.map { String(format: "≥ %.2f", $0) } ?? "-"
            print(pad(r.name, 16) + pad("\(Int(r.value)) \(r.unit)", 20) + pad("\(Int(r.baseline)) \(r.unit)", 20)
                  + pad(String(format: "%.2f", r.ratio), 8) + goal)
            print("  " + r.note)
        }
    }
}
