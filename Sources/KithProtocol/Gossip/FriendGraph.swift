public import KithModel

/// The friend graph a node knows: an edge joins two identities when both stand by a
/// `connection` record for the pair. Distances are hop counts.
public struct FriendGraph: Sendable {
    /// Neighbours of each identity.
    public private(set) var adjacency: [Identity: Set<Identity>] = [:]

    /// An empty graph.
    public init() {}

    /// Adds the edge `x`–`y`.
    public mutating func connect(_ x: Identity, _ y: Identity) {
        adjacency[x, default: []].insert(y)
        adjacency[y, default: []].insert(x)
    }

    /// Removes the edge `x`–`y`.
    public mutating func disconnect(_ x: Identity, _ y: Identity) {
        adjacency[x]?.remove(y)
        adjacency[y]?.remove(x)
    }

    /// The neighbours of `x`.
    public func neighbours(_ x: Identity) -> Set<Identity> { adjacency[x] ?? [] }

    /// Hop distances from `root` up to `maxDepth` (the root at 0).
    public func distances(from root: Identity, maxDepth: Int) -> [Identity: Int] {
        var dist: [Identity: Int] = [root: 0]
        var frontier = [root]
        var depth = 0
        while !frontier.isEmpty && depth < maxDepth {
            depth += 1
            var next: [Identity] = []
            for node in frontier {
                for n in adjacency[node] ?? [] where dist[n] == nil {
                    dist[n] = depth
                    next.append(n)
                }
            }
            frontier = next
        }
        return dist
    }
}
