import Foundation
import KithCrypto
import GRDBSQLite
#if canImport(Glibc)
import Glibc
#endif

/// Baselines outside libsodium: raw SQLite inserts and raw loopback TCP round trips.
enum RawBaselines {
    /// Seconds per insert of a 200-byte row, one row per transaction, WAL, synchronous=NORMAL.
    static func sqliteInsert(iterations: Int) -> Double {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kith-bench-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { return .nan }
        defer { sqlite3_close(db) }
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);", nil, nil, nil)
        var stmt: OpaquePointer?
        sqlite3_prepare_v2(db, "INSERT INTO t (k, v) VALUES (?, ?)", -1, &stmt, nil)
        defer { sqlite3_finalize(stmt) }
        let blob = [UInt8](repeating: 7, count: 200)
        var key: Int64 = 0
        return Stopwatch.secondsPerIteration(iterations: iterations, rounds: 3) {
            key += 1
            sqlite3_reset(stmt)
            sqlite3_bind_int64(stmt, 1, key)
            blob.withUnsafeBytes { _ = sqlite3_bind_blob(stmt, 2, $0.baseAddress, Int32($0.count), nil) }
            _ = sqlite3_step(stmt)
        }
    }

    /// Median seconds for a 100-byte request and reply over loopback TCP between two threads.
    static func loopbackRoundTrip(iterations: Int) -> Double {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, len) } }
        listen(listener, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        let echo = Thread {
            let fd = accept(listener, nil, nil)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var buffer = [UInt8](repeating: 0, count: 100)
            for _ in 0..<iterations {
                guard readFully(fd, &buffer) else { break }
                _ = buffer.withUnsafeBytes { send(fd, $0.baseAddress, 100, Int32(MSG_NOSIGNAL)) }
            }
            close(fd)
        }
        echo.start()
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, len) } }
        var buffer = [UInt8](repeating: 1, count: 100)
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = buffer.withUnsafeBytes { send(client, $0.baseAddress, 100, Int32(MSG_NOSIGNAL)) }
            guard readFully(client, &buffer) else { break }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        samples.sort()
        return samples.isEmpty ? .nan : samples[samples.count / 2]
    }

    private static func readFully(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var got = 0
        while got < buffer.count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, $0.count - got, 0) }
            if n <= 0 { return false }
            got += n
        }
        return true
    }
}

/// The raw parts of one conversation turn, measured in the same run: the author signs and
/// stores, the message crosses and the ack returns, the receiver verifies and stores.
struct TurnParts {
    let sign: Double, verify: Double, insert: Double, rtt: Double
    /// Seconds for the whole turn's raw parts.
    var total: Double { sign + verify + 2 * insert + rtt }
    /// `sign 19 + verify 56 + 2 × SQLite insert 19 + RTT 21 µs`.
    var summary: String {
        String(format: "sign %.0f µs + verify %.0f µs + 2 × SQLite insert %.0f µs + RTT %.0f µs", sign * 1e6, verify * 1e6, insert * 1e6, rtt * 1e6)
    }

    static func measure() -> TurnParts {
        let key = Ed25519.KeyPair.generate()
        let message = [UInt8](repeating: 3, count: 200)
        let sig = key.sign(message)
        return TurnParts(sign: Stopwatch.secondsPerIteration(iterations: 2000) { _ = key.sign(message) },
                         verify: Stopwatch.secondsPerIteration(iterations: 2000) { _ = key.publicKey.isValidSignature(sig, for: message) },
                         insert: RawBaselines.sqliteInsert(iterations: 2000),
                         rtt: RawBaselines.loopbackRoundTrip(iterations: 2000))
    }
}
