public import Foundation

/// Locations of files the tests read, all inside the repository.
public enum Fixtures {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `Tests/Vectors`: the public test vectors (CBOR, Wycheproof, did:key, cacophony), copied
    /// unchanged with their sources in its README.
    public static let publicVectors: URL = packageRoot.appendingPathComponent("Tests/Vectors")

    /// Reads and parses a JSON file among the public vectors.
    public static func publicVectorJSON(_ name: String) throws -> Any {
        let data = try Data(contentsOf: publicVectors.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// A file inside the repository.
    public static func repoFile(_ relativePath: String) -> URL {
        packageRoot.appendingPathComponent(relativePath)
    }

    /// How much longer than usual waits may take: `$KITH_TEST_TIME_SCALE` (default 1), set by
    /// scripts/sanitizers.sh because sanitizers slow everything down several times.
    public static let timeScale: Double = {
        guard let text = ProcessInfo.processInfo.environment["KITH_TEST_TIME_SCALE"], let value = Double(text), value >= 1 else { return 1 }
        return value
    }()

    /// A fresh, empty temporary directory.
    public static func temporaryDirectory(_ label: String = "kith") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Hex helpers for test data.
public extension Array where Element == UInt8 {
    /// Bytes from a hex string; traps on malformed input (test data only).
    init(testHex hex: String) {
        precondition(hex.count % 2 == 0, "odd hex length")
        var out: [UInt8] = []
        out.reserveCapacity(hex.count / 2)
        var it = hex.utf8.makeIterator()
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: preconditionFailure("bad hex digit")
            }
        }
        while let hi = it.next(), let lo = it.next() { out.append(nibble(hi) << 4 | nibble(lo)) }
        self = out
    }

    /// Lowercase hex.
    var testHex: String { map { String(format: "%02x", $0) }.joined() }
}

/// Polls `condition` every 50 ms for up to `seconds` (× ``Fixtures/timeScale``); true as soon as it holds.
public func eventually(_ seconds: Double = 5, _ condition: () async -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds * Fixtures.timeScale)
    while Date() < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
