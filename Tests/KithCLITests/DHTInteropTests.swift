import Foundation
import KithCrypto
import KithDHT
import KithNet
import KithTestSupport
import Logging
import NIOPosix
import Testing

/// A private Mainline DHT of 12 libtorrent nodes (an independent BEP 5 / BEP 44 implementation)
/// on loopback, each on its own 127.X.0.1, driven by Tests/Interop/dht_lab.py; Kith's DHT nodes
/// join it on 127.50.0.1 and 127.51.0.1. Nothing leaves loopback.
final class LibtorrentLab: @unchecked Sendable {
    // Sendable: used by one test at a time; `buffer` is only touched by `request`.
    let child = ChildProcess()
    let input = Pipe(), output = Pipe()
    private var buffer = Data()
    private(set) var nodes: [DHTAddress] = []

    /// `first`: X of the first node's 127.X.0.1 (suites running at once use distinct ranges).
    init(python: String, nodes count: Int = 12, first: Int = 20) throws {
        child.executableURL = URL(fileURLWithPath: python)
        child.arguments = [Fixtures.repoFile("Tests/Interop/dht_lab.py").path, "--nodes", "\(count)", "--first", "\(first)", "--lifetime", "300"]
        child.standardInput = input
        child.standardOutput = output
        child.standardError = FileHandle.standardError
        try child.run()
        let ready = try readLine(timeout: 90)
        let addresses = try #require(ready["nodes"] as? [String])
        nodes = addresses.compactMap { text in
            let parts = text.split(separator: ":")
            return DHTAddress(host: String(parts[0]), port: Int(parts[1])!)
        }
    }

    func request(_ command: [String: Any], timeout: Double = 60) throws -> [String: Any] {
        var line = try JSONSerialization.data(withJSONObject: command)
        line.append(0x0a)
        input.fileHandleForWriting.write(line)
        return try readLine(timeout: timeout)
    }

    private func readLine(timeout: Double) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let newline = buffer.firstIndex(of: 0x0a) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[buffer.index(after: newline)...])
                return try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw ChildProcessError("the libtorrent lab exited") }
            buffer.append(chunk)
        }
        throw ChildProcessError("the libtorrent lab did not answer in \(timeout) s")
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        child.terminate()
        child.waitUntilExit()
    }
}

@Suite("Mainline DHT interop with libtorrent", .serialized, .offCooperativePool)
struct DHTInteropTests {
    static let python = ProcessInfo.processInfo.environment["KITH_INTEROP_PYTHON"]

    static func kithNode(_ host: String, group: MultiThreadedEventLoopGroup) async throws -> (DHTService, DHTAddress) {
        let service = DHTService(group: group, logger: Logger(label: "dht-test"))
        let bound = try await service.bind(host: host, port: 0)
        return (service, DHTAddress(host: bound.host, port: bound.port)!)
    }

    @Test(.enabled(if: python != nil)) func libtorrentAndKithReadEachOthersRecords() async throws {
        let lab = try LibtorrentLab(python: Self.python!)
        defer { lab.stop() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (publisher, publisherAddress) = try await Self.kithNode("127.50.0.1", group: group)
        let (reader, readerAddress) = try await Self.kithNode("127.51.0.1", group: group)
        for address in [publisherAddress, readerAddress] {
            _ = try lab.request(["op": "add_node", "host": address.host, "port": Int(address.port)])
        }
        let joined = await publisher.bootstrap(Array(lab.nodes.prefix(3)))
        await reader.bootstrap(Array(lab.nodes.suffix(3)))
        #expect(joined.count >= 8, "a Kith node finds the libtorrent nodes")

        // 1. Kith publishes a pkarr record; libtorrent reads it and dnspython parses its DNS message.
        let person = Ed25519.KeyPair.generate()
        let endpoints = NodeEndpoints(tcp: ["127.50.0.1:7400"], udp: ["127.50.0.1:7400"])
        let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let record = try PublicRecord.item(endpoints: endpoints, keyPair: person, microseconds: micros)
        let stored = await publisher.put(record)
        #expect(stored.confirmed >= 6, "stored on \(stored.confirmed) of \(stored.asked)")
        let read = try lab.request(["op": "get", "node": 9, "key": person.publicKey.bytes.testHex])
        #expect(read["found"] as? Bool == true)
        #expect((read["seq"] as? NSNumber)?.int64Value == micros)
        let z32 = try #require(read["zbase32_key"] as? String)
        #expect(z32 == ZBase32.encode(person.publicKey.bytes), "z-base-32 as PyPI z-base-32 writes it")
        let txt = try #require(read["txt"] as? [String: [String]], "\(read)")
        #expect(txt == ["_kith.\(z32)": ["tcp=127.50.0.1:7400", "udp=127.50.0.1:7400"]])

        // 2. libtorrent publishes (a DNS message made by Kith's encoder, but signed and stored by
        // libtorrent with its own seq); a Kith node reads and checks it.
        let seed = Random.bytes(32)
        var seedCopy = seed
        let other = try Ed25519.KeyPair(seed: SecretBytes(consuming: &seedCopy))
        let message = PublicRecord.message(key: other.publicKey.bytes, endpoints: NodeEndpoints(tcp: ["127.9.9.9:7777"]))
        let put = try lab.request(["op": "put", "node": 4, "seed": seed.testHex, "value": message.encoded().testHex])
        #expect(put["ok"] as? Bool == true && ((put["stored"] as? Int) ?? 0) >= 6, "\(put)")
        let fetched = await reader.get(key: other.publicKey.bytes)
        let item = try #require(fetched.item, "Kith reads libtorrent's item (answered: \(fetched.answered))")
        #expect(item.isValid && item.seq == 1)
        #expect(try PublicRecord.endpoints(from: item) == NodeEndpoints(tcp: ["127.9.9.9:7777"]))

        // 3. A newer Kith record replaces the old one for libtorrent readers too.
        let moved = try PublicRecord.item(endpoints: NodeEndpoints(tcp: ["127.50.0.1:7500"]), keyPair: person, microseconds: micros + 1)
        #expect(await publisher.put(moved).confirmed >= 6)
        let reread = try lab.request(["op": "get", "node": 2, "key": person.publicKey.bytes.testHex])
        #expect(reread["txt"] as? [String: [String]] == ["_kith.\(z32)": ["tcp=127.50.0.1:7500"]])

        // Resolve time on this loopback DHT, Kith reading a record it did not publish.
        var times: [Double] = []
        for _ in 0..<20 {
            let start = Date()
            let found = await reader.get(key: person.publicKey.bytes)
            times.append(Date().timeIntervalSince(start) * 1000)
            #expect(found.item == moved)
        }
        times.sort()
        print("dht-interop: resolve p50 \(String(format: "%.1f", times[9])) ms, p99 \(String(format: "%.1f", times[19])) ms; record \(record.value.encoded().count) bytes")
        await publisher.shutdown()
        await reader.shutdown()
        try await group.shutdownGracefully()
    }
}
