public import KithModel

/// The per-model indexes a turn uses (the disclosure guard's and retrieval's, for friends and for
/// everyone else), made ahead of the first conversation so no turn pays for them.
public enum TurnIndexes {
    /// Makes the indexes for `model` now (a few milliseconds per hundred memories); turns with
    /// this model then only look them up. Call it after loading or reloading the model.
    public static func prepare(_ model: IdentityModel) {
        for peerIsFriend in [false, true] {
            _ = DisclosureGuard(model: model, peerIsFriend: peerIsFriend)
            _ = MemoryCorpus.of(MemoryFilter.permitted(model, peerIsFriend: peerIsFriend))
        }
    }
}
