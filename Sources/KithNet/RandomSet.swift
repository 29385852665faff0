/// A set with constant-time insert, remove and uniformly random pick (an array plus an index):
/// what random eviction needs under a flood.
struct RandomSet<Element: Hashable>: Sendable where Element: Sendable {
    private var items: [Element] = []
    private var index: [Element: Int] = [:]

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    func contains(_ element: Element) -> Bool { index[element] != nil }

    mutating func insert(_ element: Element) {
        guard index[element] == nil else { return }
        index[element] = items.count
        items.append(element)
    }

    mutating func remove(_ element: Element) {
        guard let i = index.removeValue(forKey: element) else { return }
        let last = items.removeLast()
        if i < items.count {
            items[i] = last
            index[last] = i
        }
    }

    /// A uniformly random member; `random(n)` returns a number in 0..<n.
    func randomElement(_ random: (Int) -> Int) -> Element? {
        items.isEmpty ? nil : items[random(items.count)]
    }
}
