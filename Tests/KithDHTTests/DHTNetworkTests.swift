import KithCrypto
import KithDHT
import Testing

/// Many ``DHTNode``s wired together in memory (datagrams delivered in order, time advanced by
/// hand): joining, finding nodes, storing and reading items, and what a hostile node cannot do.
struct SimulatedDHT {
    var nodes: [DHTAddress: DHTNode] = [:]
    var now: UInt64 = 1_000_000
    var finished: [DHTNode.LookupID: DHTNode.Outcome] = [:]
    var dropped: Set<DHTAddress> = []
    /// Datagrams a hostile observer saw, by destination.
    var seen: [(to: DHTAddress, bytes: [UInt8])] = []
    var queue: [(from: DHTAddress, to: DHTAddress, bytes: [UInt8])] = []

    static func address(_ index: Int) -> DHTAddress { DHTAddress(ip: [127, UInt8(index / 250 + 1), UInt8(index % 250), 1], port: 6881)! }

    init(count: Int) {
        for index in 0..<count {
            nodes[Self.address(index)] = DHTNode(now: now)
        }
        for index in 1..<count {
            var node = nodes[Self.address(index)]!
            node.setBootstrap([Self.address(0)])
            nodes[Self.address(index)] = node
        }
    }

    mutating func run(_ from: DHTAddress, _ start: (inout DHTNode, UInt64) -> (DHTNode.LookupID, [DHTNode.Action])) -> DHTNode.Outcome? {
        let (lookupID, actions) = start(&nodes[from]!, now)
        enqueue(actions, from: from)
        for _ in 0..<200 where finished[lookupID] == nil {
            deliverAll()
            if finished[lookupID] != nil { break }
            now += 500
            for address in nodes.keys { enqueue(nodes[address]!.tick(now: now), from: address) }
        }
        return finished.removeValue(forKey: lookupID)
    }

    mutating func enqueue(_ actions: [DHTNode.Action], from: DHTAddress) {
        for action in actions {
            switch action {
            case .send(let bytes, let to): queue.append((from, to, bytes))
            case .finished(let id, let outcome): finished[id] = outcome
            }
        }
    }

    mutating func deliverAll() {
        var steps = 0
        while !queue.isEmpty, steps < 100_000 {
            steps += 1
            let (from, to, bytes) = queue.removeFirst()
            seen.append((to, bytes))
            guard !dropped.contains(to), nodes[to] != nil else { continue }
            enqueue(nodes[to]!.receive(bytes, from: from, now: now), from: to)
        }
    }

    mutating func joinAll() {
        for index in 1..<nodes.count {
            let address = Self.address(index)
            _ = run(address) { node, now in node.findNode(node.id, now: now) }
        }
    }
}

@Suite("Mainline DHT engine in a simulated network")
struct DHTNetworkTests {
    @Test func fortyNodesJoinStoreAndResolve() throws {
        var net = SimulatedDHT(count: 40)
        net.joinAll()
        let sizes = net.nodes.values.map(\.table.count)
        #expect(sizes.min()! >= 8, "routing tables: \(sizes.sorted())")

        let keyPair = Ed25519.KeyPair.generate()
        let item = MutableItem.signed(value: .string("tcp=127.0.0.1:7400"), seq: 5, keyPair: keyPair)
        let stored = net.run(SimulatedDHT.address(7)) { node, now in node.put(item, now: now) }
        guard case .stored(let confirmed, let asked)? = stored else { Issue.record("no put outcome"); return }
        #expect(asked == 8 && confirmed == 8)

        let got = net.run(SimulatedDHT.address(33)) { node, now in node.get(key: keyPair.publicKey.bytes, now: now) }
        if case .item(let found, let answered)? = got { #expect(found == item && answered >= 8) }

        // An update with a higher seq replaces it; an older one cannot come back.
        let newer = MutableItem.signed(value: .string("tcp=127.0.0.1:7500"), seq: 6, keyPair: keyPair)
        _ = net.run(SimulatedDHT.address(7)) { node, now in node.put(newer, now: now) }
        let replay = net.run(SimulatedDHT.address(12)) { node, now in node.put(item, now: now) }
        // Nodes holding the newer one refuse it (a node outside the earlier put's set may take it;
        // readers still get the newest, below).
        if case .stored(let confirmed, let asked)? = replay { #expect(asked == 8 && confirmed <= 2, "replay stored on \(confirmed)") }
        if case .item(let found, _)? = net.run(SimulatedDHT.address(20), { node, now in node.get(key: keyPair.publicKey.bytes, now: now) }) {
            #expect(found == newer)
        } else { Issue.record("no get outcome") }
    }

    @Test func aSaltedItemIsFoundOnlyWithItsSalt() {
        var net = SimulatedDHT(count: 20)
        net.joinAll()
        let keyPair = Ed25519.KeyPair.generate()
        let item = MutableItem.signed(value: .integer(7), seq: 1, salt: Array("room".utf8), keyPair: keyPair)
        _ = net.run(SimulatedDHT.address(3)) { node, now in node.put(item, now: now) }
        let withSalt = net.run(SimulatedDHT.address(9)) { node, now in node.get(key: keyPair.publicKey.bytes, salt: Array("room".utf8), now: now) }
        let without = net.run(SimulatedDHT.address(9)) { node, now in node.get(key: keyPair.publicKey.bytes, now: now) }
        if case .item(let found, _)? = withSalt { #expect(found == item) } else { Issue.record("no outcome") }
        if case .item(let found, _)? = without { #expect(found == nil) } else { Issue.record("no outcome") }
    }

    @Test func lookupsEndWhenNodesVanish() {
        var net = SimulatedDHT(count: 20)
        net.joinAll()
        for index in 1..<20 where index != 5 { net.dropped.insert(SimulatedDHT.address(index)) }
        let start = net.now
        let outcome = net.run(SimulatedDHT.address(5)) { node, now in node.get(key: Ed25519.KeyPair.generate().publicKey.bytes, now: now) }
        #expect(outcome != nil)
        #expect(net.now - start <= 21_000, "a lookup is bounded by its timeout")
        #expect(net.nodes[SimulatedDHT.address(5)]!.table.count <= 19)
    }
}

/// A hostile node talking to one honest node directly.
@Suite("Mainline DHT engine against a hostile peer")
struct DHTHostilePeerTests {
    let victim = DHTAddress(ip: [127, 0, 0, 2], port: 6881)!
    let attacker = DHTAddress(ip: [127, 0, 0, 66], port: 4000)!

    func ask(_ node: inout DHTNode, _ query: KRPCMessage.Query, from: DHTAddress? = nil, transaction: [UInt8] = [1, 2], now: UInt64 = 10_000) -> KRPCMessage? {
        let message = KRPCMessage(transaction: transaction, body: .query(sender: NodeID.random(), query))
        let actions = node.receive(message.encoded(), from: from ?? attacker, now: now)
        for case .send(let bytes, _) in actions { return try? KRPCMessage.decode(bytes) }
        return nil
    }

    func token(_ node: inout DHTNode, target: NodeID, from: DHTAddress? = nil) -> [UInt8] {
        guard case .response(let response)? = ask(&node, .get(target: target, seq: nil), from: from)?.body else { return [] }
        return response.token ?? []
    }

    @Test func putsNeedAValidTokenSignatureAndSeq() {
        var node = DHTNode(now: 0)
        let keyPair = Ed25519.KeyPair.generate()
        let item = MutableItem.signed(value: .string("v"), seq: 10, keyPair: keyPair)
        // No token, or another address's token: refused.
        #expect(ask(&node, .put(item, token: [0, 0, 0, 0, 0, 0, 0, 0], cas: nil))?.body == .error(code: 203, message: "bad token"))
        let otherToken = token(&node, target: item.target, from: DHTAddress(ip: [127, 0, 0, 99], port: 1)!)
        #expect(ask(&node, .put(item, token: otherToken, cas: nil))?.body == .error(code: 203, message: "bad token"))
        let good = token(&node, target: item.target)
        // A forged signature, a value too big: refused with BEP 44 codes.
        let forged = MutableItem(key: item.key, salt: [], seq: 11, value: .string("evil"), signature: item.signature)
        #expect(ask(&node, .put(forged, token: good, cas: nil))?.body == .error(code: 206, message: "invalid signature"))
        let big = MutableItem.signed(value: .bytes([UInt8](repeating: 0, count: 1_200)), seq: 12, keyPair: keyPair)
        #expect(ask(&node, .put(big, token: good, cas: nil))?.body == .error(code: 205, message: "message (v field) too big"))
        // The real one is stored; an older or equal-but-different one is refused; CAS is checked.
        if case .response? = ask(&node, .put(item, token: good, cas: nil))?.body {} else { Issue.record("valid put refused") }
        #expect(node.storedItemCount == 1)
        let older = MutableItem.signed(value: .string("old"), seq: 9, keyPair: keyPair)
        #expect(ask(&node, .put(older, token: good, cas: nil))?.body == .error(code: 302, message: "sequence number less than current"))
        let sameSeq = MutableItem.signed(value: .string("other"), seq: 10, keyPair: keyPair)
        #expect(ask(&node, .put(sameSeq, token: good, cas: nil))?.body == .error(code: 302, message: "sequence number less than current"))
        let next = MutableItem.signed(value: .string("next"), seq: 11, keyPair: keyPair)
        #expect(ask(&node, .put(next, token: good, cas: 3))?.body == .error(code: 301, message: "CAS mismatch"))
        // get with seq answers only newer items.
        guard case .response(let response)? = ask(&node, .get(target: item.target, seq: 10))?.body else { Issue.record("no answer"); return }
        #expect(response.item == nil && response.seq == 10)
    }

    @Test func aLookupIgnoresForgedAndMisdirectedAnswers() {
        // The honest node asks the attacker (its only contact) for an item; the attacker answers
        // with an item signed by another key, then from another address: neither counts.
        var node = DHTNode(now: 0)
        node.setBootstrap([attacker])
        let keyPair = Ed25519.KeyPair.generate(), mallory = Ed25519.KeyPair.generate()
        let (_, actions) = node.get(key: keyPair.publicKey.bytes, now: 0)
        guard case .send(let bytes, let to)? = actions.first, let query = try? KRPCMessage.decode(bytes) else {
            Issue.record("no query"); return
        }
        #expect(to == attacker)
        let fake = MutableItem.signed(value: .string("tcp=6.6.6.6:1"), seq: 99, keyPair: mallory)
        var response = KRPCMessage.Response(sender: NodeID.random())
        response.item = (keyPair.publicKey.bytes, fake.seq, fake.signature, fake.value) // claims the victim's key
        let reply = KRPCMessage(transaction: query.transaction, body: .response(response)).encoded()
        // From an address it did not ask: ignored entirely.
        #expect(node.receive(reply, from: DHTAddress(ip: [127, 0, 0, 67], port: 4000)!, now: 10).isEmpty)
        let outcome = node.receive(reply, from: attacker, now: 10)
        #expect(outcome.contains { action in
            if case .finished(_, .item(nil, answered: 1)) = action { return true }
            return false
        }, "the forged item is not returned; the lookup ends with nothing")
    }

    @Test func floodsAndGarbageCostLittleAndAreBounded() {
        var node = DHTNode(now: 0)
        var answered = 0
        for index in 0..<1_000 {
            if ask(&node, .ping, transaction: [UInt8(index & 0xff)], now: 1_000) != nil { answered += 1 }
        }
        #expect(answered == 50, "one address gets its burst, then is rate limited")
        #expect(node.statistics.rateLimited == 950)
        for garbage in [[UInt8](), Array("d1:t1:a1:y1:qe".utf8), Array("de".utf8), [UInt8](repeating: 0x64, count: 1_400)] {
            #expect(node.receive(garbage, from: attacker, now: 2_000).isEmpty)
        }
        // Unknown methods get 204, as BEP 5 asks.
        let other = DHTAddress(ip: [127, 0, 0, 70], port: 1)!
        #expect(ask(&node, .unknown(method: Array("vote".utf8)), from: other)?.body == .error(code: 204, message: "Method Unknown"))
        // Read-only queriers are answered but never enter the routing table (BEP 43).
        let readOnly = KRPCMessage(transaction: [9], body: .query(sender: NodeID.random(), .ping), readOnly: true)
        _ = node.receive(readOnly.encoded(), from: DHTAddress(ip: [127, 0, 0, 71], port: 1)!, now: 3_000)
        #expect(!node.table.contacts.contains { $0.address.ip == [127, 0, 0, 71] })
        // One address cannot fill a bucket with made-up ids.
        for index in 0..<50 {
            _ = ask(&node, .ping, from: DHTAddress(ip: [127, 0, 0, 72], port: 1)!, transaction: [UInt8(index)], now: 60_000 + UInt64(index) * 100)
        }
        #expect(node.table.contacts.filter { $0.address.ip == [127, 0, 0, 72] }.count <= 1)
        // Off loopback, one IP holds one entry whatever its ports (an attacker's host cannot
        // fill buckets by changing ports); on loopback every port is a node of its own.
        for index in 0..<50 {
            _ = ask(&node, .ping, from: DHTAddress(ip: [10, 9, 8, 7], port: UInt16(2_000 + index))!, transaction: [UInt8(index)],
                    now: 70_000 + UInt64(index) * 100)
        }
        #expect(node.table.contacts.filter { $0.address.ip == [10, 9, 8, 7] }.count <= 1)
        // A querier enters the table once it answers the ping the node sends back.
        let querier = DHTAddress(ip: [10, 1, 2, 3], port: 6881)!, querierID = NodeID.random()
        let query = KRPCMessage(transaction: [1], body: .query(sender: querierID, .ping))
        let answers = node.receive(query.encoded(), from: querier, now: 80_000)
        #expect(!node.table.contacts.contains { $0.address == querier }, "not before it answered")
        guard answers.count == 2, case .send(let pingBytes, let to) = answers[1], to == querier,
              let ping = try? KRPCMessage.decode(pingBytes)
        else { Issue.record("expected an answer and a ping back: \(answers.count)"); return }
        let pong = KRPCMessage(transaction: ping.transaction, body: .response(.init(sender: querierID))).encoded()
        _ = node.receive(pong, from: querier, now: 80_100)
        #expect(node.table.contacts.contains { $0.address == querier && $0.id == querierID })
    }

    @Test func twoNodesSeeingARewrittenPortMarkTheNodeAsBehindNAT() {
        var node = DHTNode(now: 0)
        node.setLocalPort(6881)
        let routers = [DHTAddress(ip: [127, 0, 1, 1], port: 6881)!, DHTAddress(ip: [127, 0, 2, 1], port: 6881)!,
                       DHTAddress(ip: [127, 0, 3, 1], port: 6881)!]
        node.setBootstrap(routers)
        let (_, actions) = node.findNode(node.id, now: 0)
        var queries: [DHTAddress: [UInt8]] = [:]
        for case .send(let bytes, let to) in actions { queries[to] = (try? KRPCMessage.decode(bytes))?.transaction }
        #expect(queries.count == 3)
        func answer(_ router: DHTAddress, seenAt: DHTAddress) {
            let reply = KRPCMessage(transaction: queries[router]!, body: .response(.init(sender: NodeID.random())), observedAddress: seenAt)
            _ = node.receive(reply.encoded(), from: router, now: 10)
        }
        // One node's word is not enough; the same port as bound proves nothing either.
        answer(routers[0], seenAt: DHTAddress(ip: [198, 51, 100, 7], port: 40_000)!)
        #expect(!node.portIsRewritten)
        answer(routers[1], seenAt: DHTAddress(ip: [198, 51, 100, 7], port: 6881)!)
        #expect(!node.portIsRewritten)
        answer(routers[2], seenAt: DHTAddress(ip: [198, 51, 100, 7], port: 40_000)!)
        #expect(node.portIsRewritten, "two nodes saw port 40000 for a socket bound to 6881")
    }
}
