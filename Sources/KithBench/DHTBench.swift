import Foundation
import KithCrypto
import KithDHT
import KithNet
import Logging
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The Mainline DHT on loopback (issue 15): Kith DHT nodes, each on its own 127.71.N.1, joined
/// into one network; a record put by one is resolved by the others.
///
/// Figures: resolve time p50/p99 (against one raw UDP round trip on loopback, measured in the
/// same run: a lookup needs a few rounds of them), the record sizes (against BEP 44's 1,000-byte
/// limit), and DHT traffic per node per hour at rest (against the minimum, one republication of
/// the node's record an hour).
enum DHTBench {
    static func measure(nodes count: Int, resolves: Int, progress: (String) -> Void) async throws -> [BenchResult] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        var services: [DHTService] = []
        var addresses: [DHTAddress] = []
        progress("dht: \(count) nodes joining on loopback")
        for index in 0..<count {
            let service = DHTService(group: group, logger: logger)
            let bound = try await service.bind(host: "127.71.\(index).1", port: 0)
            services.append(service)
            addresses.append(DHTAddress(host: bound.host, port: bound.port)!)
        }
        for index in 1..<count { await services[index].bootstrap([addresses[0], addresses[index - 1]]) }
        for index in 0..<count { await services[index].bootstrap([addresses[0]]) }

        let person = Ed25519.KeyPair.generate()
        let endpoints = NodeEndpoints(tcp: ["198.51.100.7:7400"], udp: ["198.51.100.7:7400"])
        let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let publicItem = try PublicRecord.item(endpoints: endpoints, keyPair: person, microseconds: micros)
        let friendsItem = try FriendsRecord.item(endpoints: endpoints, identity: person, recordKey: .random(count: 32), microseconds: micros)
        let before = services[1].statistics
        let stored = await services[1].put(publicItem)
        let after = services[1].statistics
        let putBytes = (after.bytesIn - before.bytesIn) + (after.bytesOut - before.bytesOut)
        progress("dht: record stored on \(stored.confirmed)/\(stored.asked); \(resolves) resolves from other nodes")
        var times: [Double] = []
        var found = 0
        for round in 0..<resolves {
            let reader = services[2 + round % (count - 2)]
            let start = DispatchTime.now().uptimeNanoseconds
            let result = await reader.get(key: person.publicKey.bytes)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            if result.item == publicItem { found += 1 }
        }
        times.sort()
        let p50 = times[times.count / 2], p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
        let rtt = udpRoundTripMilliseconds(rounds: 2_000)

        progress("dht: two hours at rest, \(count) engines in virtual time")
        let perNodeHour = Double(restTrafficPerNodeHour(nodes: count)) + Double(putBytes)
        for service in services { await service.shutdown() }
        try await group.shutdownGracefully()
        let publicSize = publicItem.value.encoded().count, friendsSize = friendsItem.value.encoded().count
        return [
            BenchResult(name: "dht_resolve_p50", value: p50 * 1000, unit: "µs", baseline: rtt * 1000, ratio: rtt / p50, goal: nil,
                        note: "get lookup of a pkarr record among \(count) Kith DHT nodes on loopback (\(found)/\(resolves) found); baseline: one raw UDP round trip"),
            BenchResult(name: "dht_resolve_p99", value: p99 * 1000, unit: "µs", baseline: rtt * 1000, ratio: rtt / p99, goal: nil,
                        note: "same lookups, 99th percentile"),
            BenchResult(name: "dht_record_public", value: Double(publicSize), unit: "B", baseline: 1_000, ratio: 1_000 / Double(publicSize), goal: 1,
                        note: "bencoded v of a public (pkarr) record with 2 endpoints; baseline: BEP 44's limit"),
            BenchResult(name: "dht_record_friends", value: Double(friendsSize), unit: "B", baseline: 1_000, ratio: 1_000 / Double(friendsSize), goal: 1,
                        note: "bencoded v of a friends record with 2 endpoints; baseline: BEP 44's limit"),
            BenchResult(name: "dht_traffic_rest", value: perNodeHour, unit: "B/h", baseline: Double(putBytes), ratio: Double(putBytes) / perNodeHour, goal: nil,
                        note: "DHT bytes in+out per node in the second hour at rest (\(count) DHTNode engines in virtual time: bucket refreshes and answers), plus one republication of its record; baseline: one republication"),
        ]
    }

    /// Bytes in and out per node during the second hour of `nodes` engines at rest (joined in
    /// the first), delivered in memory in virtual time with 500 ms ticks.
    static func restTrafficPerNodeHour(nodes count: Int) -> Int {
        var now: UInt64 = 1_000_000
        let addresses = (0..<count).map { DHTAddress(ip: [127, 72, UInt8($0), 1], port: 6881)! }
        var engines = Dictionary(uniqueKeysWithValues: addresses.map { ($0, DHTNode(now: now)) })
        var queue: [(from: DHTAddress, to: DHTAddress, bytes: [UInt8])] = []
        func enqueue(_ actions: [DHTNode.Action], from: DHTAddress) {
            for case .send(let bytes, let to) in actions { queue.append((from, to, bytes)) }
        }
        func deliver() {
            var index = 0
            while index < queue.count {
                let (from, to, bytes) = queue[index]
                index += 1
                if engines[to] != nil { enqueue(engines[to]!.receive(bytes, from: from, now: now), from: to) }
            }
            queue.removeAll(keepingCapacity: true)
        }
        for (index, address) in addresses.enumerated() where index > 0 {
            engines[address]!.setBootstrap([addresses[0]])
            enqueue(engines[address]!.findNode(engines[address]!.id, now: now).1, from: address)
            deliver()
        }
        func run(for milliseconds: UInt64) {
            let end = now + milliseconds
            while now < end {
                now += 500
                for address in addresses { enqueue(engines[address]!.tick(now: now), from: address) }
                deliver()
            }
        }
        run(for: 3_600_000)
        let before = engines.values.map { $0.statistics.bytesIn + $0.statistics.bytesOut }.reduce(0, +)
        run(for: 3_600_000)
        let after = engines.values.map { $0.statistics.bytesIn + $0.statistics.bytesOut }.reduce(0, +)
        return (after - before) / count
    }

    /// One 64-byte UDP datagram to a socket on loopback and back, in ms (median of `rounds`).
    static func udpRoundTripMilliseconds(rounds: Int) -> Double {
        let a = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0), b = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(a); close(b) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        func bindAndName(_ fd: Int32) -> sockaddr_in {
            var local = address
            _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return local
        }
        var addressA = bindAndName(a), addressB = bindAndName(b)
        var buffer = [UInt8](repeating: 7, count: 64)
        var samples: [Double] = []
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = withUnsafePointer(to: &addressB) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(a, buffer, 64, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            _ = recv(b, &buffer, 64, 0)
            _ = withUnsafePointer(to: &addressA) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(b, buffer, 64, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            _ = recv(a, &buffer, 64, 0)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        samples.sort()
        return samples[samples.count / 2]
    }
}
