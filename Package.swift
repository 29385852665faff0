// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Kith",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kith", targets: ["kith"]),
        .library(name: "KithModel", targets: ["KithModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // SHA-1 only, the Mainline DHT's addressing hash (libsodium has none).
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // The local dashboard's HTTP server (without swift-configuration support).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // libsodium, the only C crypto library; reached only through KithCrypto.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "KithCrypto", dependencies: ["CSodium"], swiftSettings: strictSettings),
        .target(name: "KithCBOR", swiftSettings: strictSettings),
        .target(
            name: "KithModel",
            dependencies: [
                "KithCrypto", "KithCBOR",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithProtocol",
            dependencies: ["KithCrypto", "KithCBOR", "KithModel"],
            swiftSettings: strictSettings
        ),
        // The Mainline DHT (BEP 5, 43, 44) and pkarr records, as pure state machines.
        .target(
            name: "KithDHT",
            dependencies: [
                "KithCrypto", "KithProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithNet",
            dependencies: [
                "KithProtocol", "KithDHT", "KithModel", "KithCrypto", "KithCBOR",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithPersona",
            dependencies: ["KithModel", "KithCrypto", "KithCBOR"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithStore",
            dependencies: [
                "KithModel",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithNode",
            dependencies: [
                "KithCrypto", "KithCBOR", "KithModel", "KithStore", "KithProtocol", "KithNet", "KithPersona", "KithDHT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The person's window: a local web app and JSON API over the control commands.
        .target(
            name: "KithDashboard",
            dependencies: [
                "KithNode", "KithModel", "KithCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("Web/index.html"),
                .embedInCode("Web/app.js"),
                .embedInCode("Web/app.css"),
            ],
            swiftSettings: strictSettings
        ),
        // Decoders driven with arbitrary bytes (libFuzzer and corpus replay); see Fuzz/.
        .target(
            name: "KithFuzzTargets",
            dependencies: ["KithCrypto", "KithCBOR", "KithModel", "KithProtocol", "KithDHT"],
            swiftSettings: strictSettings
        ),
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "kith-fuzz",
            dependencies: ["KithFuzzTargets", "CLibFuzzer"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithSimulation",
            dependencies: ["KithCrypto", "KithCBOR", "KithModel", "KithProtocol"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithBench",
            dependencies: [
                "KithCrypto", "KithModel", "KithProtocol", "KithNode", "KithPersona", "KithStore", "KithNet", "KithSimulation", "KithCBOR", "KithDHT",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "kith",
            dependencies: [
                "KithNode", "KithModel", "KithCrypto", "KithProtocol", "KithBench", "KithSimulation", "KithDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "KithTestSupport",
            dependencies: [
                "KithCrypto", "KithCBOR", "KithModel", "KithProtocol", "KithNode", "KithPersona",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/KithTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KithDHTTests",
            dependencies: ["KithDHT", "KithCrypto", "KithTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "KithCryptoTests", dependencies: ["KithCrypto", "KithTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "KithProtocolTests",
            dependencies: ["KithProtocol", "KithModel", "KithCrypto", "KithCBOR", "KithTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KithNetTests",
            dependencies: [
                "KithNet", "KithProtocol", "KithModel", "KithCrypto", "KithCBOR", "KithTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KithSimulationTests",
            dependencies: ["KithSimulation", "KithProtocol", "KithModel", "KithCrypto", "KithCBOR", "KithTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KithPersonaTests",
            dependencies: ["KithPersona", "KithModel", "KithCrypto", "KithTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "KithFuzzTests", dependencies: ["KithFuzzTargets", "KithTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "KithCBORTests", dependencies: ["KithCBOR", "KithTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "KithModelTests", dependencies: ["KithModel", "KithCrypto", "KithCBOR", "KithTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "KithStoreTests",
            dependencies: ["KithStore", "KithModel", "KithCrypto", "KithTestSupport", .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KithNodeTests",
            dependencies: [
                "KithNode", "KithStore", "KithModel", "KithCrypto", "KithCBOR", "KithProtocol", "KithNet", "KithTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "KithCLITests",
            dependencies: [
                "KithModel", "KithCrypto", "KithCBOR", "KithStore", "KithTestSupport", "KithDHT", "KithNet",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
