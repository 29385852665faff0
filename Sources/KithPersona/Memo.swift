import Foundation

/// The values made for the few keys asked about most recently (a node's conversations ask about
/// the same memory lists turn after turn). Keys are compared with `==`, which is quick for arrays
/// sharing their storage, and no key is hashed. `==` on strings is canonical equivalence, so what
/// is made from a key must not depend on its Unicode normalization form (``TextTools`` folds to
/// NFC first).
final class RecentMemo<Key: Equatable & Sendable, Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var recent: [(key: Key, value: Value)] = []
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The value for `key`, made by `make` when it is not among the recent ones (outside the lock).
    func value(for key: Key, make: () -> Value) -> Value {
        let cached: Value? = lock.withLock {
            guard let i = recent.firstIndex(where: { $0.key == key }) else { return nil }
            let hit = recent.remove(at: i)
            // The caller's key replaces the stored one: the next turn's copy shares its storage.
            recent.insert((key, hit.value), at: 0)
            return hit.value
        }
        if let cached { return cached }
        let made = make()
        lock.withLock {
            recent.removeAll { $0.key == key }
            recent.insert((key, made), at: 0)
            if recent.count > capacity { recent.removeLast() }
        }
        return made
    }
}
