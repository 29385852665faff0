import Foundation

/// Times a block over many iterations and reports the best of several rounds (the least
/// disturbed by other work on a shared machine).
enum Stopwatch {
    /// Seconds per iteration: the minimum over `rounds` rounds of `iterations` calls.
    static func secondsPerIteration(iterations: Int, rounds: Int = 5, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations { try body() }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, elapsed / Double(iterations))
        }
        return best
    }
}
