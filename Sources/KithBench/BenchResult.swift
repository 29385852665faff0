/// One benchmark figure next to the baseline it is judged against.
public struct BenchResult: Sendable, Codable {
    /// Stable name, like `handshake`.
    public var name: String
    /// The measured value.
    public var value: Double
    /// Its unit, like `1/s`.
    public var unit: String
    /// The baseline measured in the same run, same unit.
    public var baseline: Double
    /// `value / baseline` (higher is better for rates).
    public var ratio: Double
    /// The ratio the project aims for, if any.
    public var goal: Double?
    /// How the baseline was derived.
    public var note: String
}

/// A report: the machine and the figures.
public struct BenchReport: Sendable, Codable {
    /// Facts about the machine and build.
    public var machine: [String: String]
    /// The figures.
    public var results: [BenchResult]
}
