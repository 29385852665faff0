internal import CSodium

/// Makes sure libsodium is initialised exactly once before any primitive runs.
enum Sodium {
    /// Evaluated once (Swift guarantees thread-safe lazy initialisation of globals).
    private static let initialised: Bool = sodium_init() >= 0

    /// Call at the top of every entry point that reaches libsodium.
    static func ensureInitialised() {
        precondition(initialised, "libsodium failed to initialise")
    }
}
