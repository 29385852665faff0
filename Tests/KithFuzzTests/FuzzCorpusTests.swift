import Foundation
import KithFuzzTargets
import KithTestSupport
import Testing

/// The fuzz targets as ordinary tests: every committed seed and every crash reproducer is
/// replayed on each run, and each seed is mutated a bounded number of times (a small,
/// deterministic fuzz pass that needs no libFuzzer build).
@Suite("Fuzz corpora and regressions")
struct FuzzCorpusTests {
    static func inputs(_ target: FuzzTarget) -> [(name: String, bytes: [UInt8])] {
        var result: [(String, [UInt8])] = []
        for folder in ["Fuzz/corpus", "Fuzz/regressions"] {
            let dir = Fixtures.repoFile("\(folder)/\(target.rawValue)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                if let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) {
                    result.append(("\(folder)/\(target.rawValue)/\(name)", [UInt8](data)))
                }
            }
        }
        return result
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyCommittedInputReplaysWithoutViolatingAProperty(_ target: FuzzTarget) {
        let inputs = Self.inputs(target)
        #expect(inputs.count >= 2, "Fuzz/corpus/\(target.rawValue) should hold seeds")
        for input in inputs { target.run(input.bytes) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func generatedSeedsAreCommitted(_ target: FuzzTarget) {
        let committed = Set(Self.inputs(target).map(\.bytes))
        for (name, bytes) in target.generatedSeeds where !["session", "noise"].contains(target.rawValue) {
            // Handshake seeds hold fresh ephemeral keys, so only their presence is checked.
            #expect(committed.contains(bytes), "seed-\(name) changed: regenerate with `kith-fuzz seeds Fuzz/corpus`")
        }
        #expect(!target.generatedSeeds.isEmpty)
    }

    @Test(arguments: FuzzTarget.allCases)
    func boundedMutationsOfEverySeedKeepEveryProperty(_ target: FuzzTarget) {
        var rng = SplitMix(seed: 0x6b69_7468)
        for input in Self.inputs(target).prefix(40) {
            for _ in 0..<60 {
                var bytes = input.bytes
                switch rng.next() % 4 {
                case 0 where !bytes.isEmpty: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1 where !bytes.isEmpty: bytes.removeSubrange(Int(rng.next() % UInt64(bytes.count))...)
                case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count + 1)))
                default: bytes += bytes.prefix(Int(rng.next() % 16))
                }
                target.run(bytes)
            }
        }
    }
}

/// A tiny deterministic generator for the mutation pass.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
