// swift-tools-version:6.2
import PackageDescription

/// Every target compiles in the Swift 6 language mode with the upcoming features the Swift server
/// ecosystem (Hummingbird, swift-log) has adopted.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tandem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tandem", targets: ["tandem"]),
        .executable(name: "tandem-sim", targets: ["tandem-sim"]),
        .executable(name: "tandem-bench", targets: ["tandem-bench"]),
        .library(name: "TandemCore", targets: ["TandemCore"]),
        .library(name: "TandemServer", targets: ["TandemServer"]),
        // For the libFuzzer targets of Fuzz/ (Scripts/fuzz).
        .library(name: "CWMP", targets: ["CWMP"]),
        .library(name: "USP", targets: ["USP"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.30.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
    ],
    targets: [
        // MARK: System libraries (design card: libxml2 for SOAP, libmosquitto for the MQTT MTP)
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        // glibc's malloc_trim, for HeapTrimService.
        .systemLibrary(name: "CSystemMemory"),
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),

        // MARK: Protocol-neutral domain
        .target(name: "TandemCore", swiftSettings: swiftSettings),

        // MARK: Protocol codecs
        .target(name: "CWMP", dependencies: ["TandemCore", "CLibXML2"], swiftSettings: swiftSettings),
        .target(
            name: "USP",
            dependencies: ["TandemCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),

        // MARK: Message transfer protocols (USP MTPs), each behind `MessageTransport`
        .target(
            name: "MTP",
            dependencies: ["TandemCore", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MTPWebSocket",
            dependencies: [
                "MTP",
                // The dialer's client and session loop; the listener is plain SwiftNIO.
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MTPMQTT",
            dependencies: ["MTP", "CMosquitto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MTPSTOMP",
            dependencies: [
                "MTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: HTTP authentication shared by the ACS, its connection requests and the simulator
        .target(
            name: "HTTPAuthentication",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),

        // MARK: Storage, policy, engine
        .target(
            name: "Registry",
            dependencies: [
                "TandemCore", .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API for the hot write path's bindings (DirectStatement.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Policy", dependencies: ["TandemCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .target(
            name: "Engine",
            dependencies: [
                "TandemCore", "CWMP", "USP", "Registry", "Policy", "MTP", "HTTPAuthentication",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Simulated devices (tandem-sim and the live tests); speaks only the wire protocols
        .target(
            name: "Simulator",
            dependencies: [
                "TandemCore", "CWMP", "USP", "MTP", "MTPMQTT", "HTTPAuthentication", "USPAgentSimulator",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Simulated USP agents (tandem-sim usp and the live tests)
        .target(
            name: "USPAgentSimulator",
            dependencies: [
                "TandemCore", "USP", "MTP", "MTPWebSocket", "MTPMQTT", "MTPSTOMP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Composition root and executables
        .target(
            name: "TandemServer",
            dependencies: [
                "TandemCore", "CWMP", "USP", "MTP", "MTPWebSocket", "MTPMQTT", "MTPSTOMP", "Registry", "Policy", "Engine",
                "HTTPAuthentication", "CSystemMemory",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem",
            dependencies: [
                "TandemServer", "Registry", "TandemCore", "CWMP", "USP", "HTTPAuthentication", "Policy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-sim",
            dependencies: [
                "TandemCore", "Simulator", "USPAgentSimulator", "MTPMQTT",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks (Scripts/bench): load clients and floor responders, thin over the libraries
        .executableTarget(
            name: "tandem-bench",
            dependencies: [
                "TandemCore", "CWMP", "CLibXML2", "USP", "MTP", "MTPMQTT", "Registry", "Engine", "Simulator", "USPAgentSimulator",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(name: "TandemCoreTests", dependencies: ["TandemCore"], swiftSettings: swiftSettings),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "TandemCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["Registry", "TandemCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SimulatorTests",
            dependencies: [
                "Simulator", "CWMP", "TandemCore", "HTTPAuthentication", "USPAgentSimulator", "USP", "MTP", "MTPWebSocket", "MTPMQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "HTTPAuthenticationTests", dependencies: ["HTTPAuthentication"], swiftSettings: swiftSettings),
        .testTarget(name: "CWMPTests", dependencies: ["CWMP", "TandemCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "USPTests",
            dependencies: ["USP", "TandemCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MTPWebSocketTests",
            dependencies: [
                "MTPWebSocket", "MTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MTPMQTTTests", dependencies: ["MTPMQTT", "MTP"], swiftSettings: swiftSettings),
        // Test support shared by test targets (a loopback TCP relay that can cut and refuse
        // connections); no product depends on it.
        .target(
            name: "NetworkTestSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Tests/NetworkTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MTPSTOMPTests",
            dependencies: [
                "MTPSTOMP", "MTP", "NetworkTestSupport", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SystemLibraryTests",
            dependencies: ["CLibXML2", "MTPMQTT", "MTP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemServerTests",
            dependencies: [
                "TandemServer", "Registry", "TandemCore", "CWMP", "Engine", "HTTPAuthentication", "USPAgentSimulator", "Simulator", "USP", "MTP", "MTPWebSocket", "MTPMQTT",
                "Policy", "NetworkTestSupport",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
