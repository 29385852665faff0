/// One iterative lookup's state (BEP 5): candidates ordered by distance to the target, which of
/// them were asked, answered (with their write token) or failed.
struct Lookup: Sendable {
    enum Purpose: Sendable {
        case findNode
        case get(key: [UInt8], salt: [UInt8])
        case put(MutableItem)
    }

    enum State: Sendable { case fresh, asked, answered, failed }

    struct Candidate: Sendable {
        var id: NodeID?
        let address: DHTAddress
        var state: State = .fresh
        var token: [UInt8]?

        var contact: Contact? { id.map { Contact(id: $0, address: address) } }
    }

    /// Candidates kept at most (the closest).
    static let maxCandidates = 64

    let target: NodeID
    let purpose: Purpose
    var deadline: UInt64 = 0
    /// Known nodes by distance; bootstrap routers (no id yet) after them.
    private(set) var candidates: [Candidate] = []
    var best: MutableItem?
    var highestSeen: Int64?
    var storing = false
    var putsAsked = 0
    var putsInFlight = 0
    var putsConfirmed = 0
    var putTargets: Set<DHTAddress> = []

    /// One candidate per IP and two per /24 (/64), as libtorrent's `restrict_search_ips`: a
    /// hostile answer naming many "close nodes" at one victim cannot turn a lookup into a flood.
    let restrictAddresses: Bool

    init(target: NodeID, purpose: Purpose, restrictAddresses: Bool) {
        self.target = target
        self.purpose = purpose
        self.restrictAddresses = restrictAddresses
    }

    var inFlight: Int { candidates.count { $0.state == .asked } }
    var answeredCount: Int { candidates.count { $0.state == .answered } }

    /// Adds a node learned from the table or an answer (one per address and per id).
    mutating func add(_ contact: Contact) {
        guard !candidates.contains(where: { $0.address == contact.address || $0.id == contact.id }) else { return }
        if restrictAddresses {
            guard !candidates.contains(where: { $0.address.ip == contact.address.ip }),
                  candidates.count(where: { $0.address.network == contact.address.network }) < 2
            else { return }
        }
        let index = candidates.firstIndex { other in
            guard let otherID = other.id else { return true }
            return contact.id.closer(to: target, than: otherID)
        } ?? candidates.count
        candidates.insert(Candidate(id: contact.id, address: contact.address), at: index)
        if candidates.count > Self.maxCandidates,
           let drop = candidates.lastIndex(where: { $0.state == .fresh || $0.state == .failed }) {
            candidates.remove(at: drop)
        }
    }

    /// Adds a bootstrap router: asked like any node, its id learned from its answer.
    mutating func addBootstrap(_ address: DHTAddress) {
        guard !candidates.contains(where: { $0.address == address }) else { return }
        candidates.append(Candidate(id: nil, address: address))
    }

    /// The closest candidate not asked yet among the k closest still alive; bootstrap routers
    /// only while no node with an id is waiting.
    func nextToAsk() -> Candidate? {
        var withID = 0
        for candidate in candidates where candidate.state != .failed {
            if candidate.id != nil {
                if candidate.state == .fresh { return candidate }
                withID += 1
                if withID >= RoutingTable.k { break }
            }
        }
        if withID >= RoutingTable.k { return nil }
        return candidates.first { $0.id == nil && $0.state == .fresh }
    }

    mutating func markAsked(_ address: DHTAddress) {
        if let index = candidates.firstIndex(where: { $0.address == address }) { candidates[index].state = .asked }
    }

    mutating func answered(_ address: DHTAddress, id: NodeID, token: [UInt8]?) {
        guard let index = candidates.firstIndex(where: { $0.address == address }) else { return }
        var candidate = candidates.remove(at: index)
        candidate.state = .answered
        candidate.token = token
        if candidate.id == nil {
            // A bootstrap router: place it by its id now that it is known, unless it duplicates one.
            guard !candidates.contains(where: { $0.id == id }) else { return }
            candidate.id = id
        }
        let position = candidates.firstIndex { other in
            guard let otherID = other.id else { return true }
            return id.closer(to: target, than: otherID)
        } ?? candidates.count
        candidates.insert(candidate, at: position)
    }

    mutating func markFailed(_ address: DHTAddress, putPhase: Bool) {
        if putPhase {
            if putTargets.remove(address) != nil { putsInFlight -= 1 }
            return
        }
        if let index = candidates.firstIndex(where: { $0.address == address }) { candidates[index].state = .failed }
    }

    mutating func putConfirmed(_ address: DHTAddress) {
        guard putTargets.remove(address) != nil else { return }
        putsInFlight -= 1
        putsConfirmed += 1
    }

    /// The `count` closest nodes that answered.
    func closestAnswered(_ count: Int) -> [Candidate] {
        Array(candidates.filter { $0.state == .answered && $0.id != nil }.prefix(count))
    }
}
