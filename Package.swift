// swift-tools-version:6.2
import PackageDescription

// Security-relevant packages are pinned exactly; the rest follow semver from a known-good floor.
// Coverage-guided fuzzing (scripts/fuzz): with STRONGROOM_FUZZ=1 Strongroom's own modules are
// compiled with libFuzzer's coverage instrumentation and AddressSanitizer, and strongroom-fuzz is
// linked with both. Dependencies stay uninstrumented. Ordinary builds are unaffected.
let fuzzing = Context.environment["STRONGROOM_FUZZ"] == "1"
let fuzzFlags = ["-sanitize=fuzzer,address"]

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Every file imports the modules whose members it uses; every target declares what it imports.
    .enableUpcomingFeature("MemberImportVisibility"),
] + (fuzzing ? [.unsafeFlags(fuzzFlags)] : [])

let package = Package(
    name: "strongroom",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "strongroom", targets: ["strongroom"]),
        .executable(name: "strongroom-fuzz", targets: ["StrongroomFuzz"]),
    ],
    dependencies: [
        // Cryptography, JOSE, X.509, TLS: exact pins.
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", exact: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", exact: "2.5.0"),
        // Server, storage, operations.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        // The SQLite C API (the system libsqlite3) through GRDB's public GRDBSQLite product.
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/async-kit.git", from: "1.22.0"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // Domain values, configuration, errors. No crypto, no HTTP, no SQL.
        .target(
            name: "StrongroomCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The system libcrypto (OpenSSL 3), for RSA signing only (StrongroomJOSE/OpenSSLRSASigner.swift).
        .systemLibrary(
            name: "COpenSSLCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // Safe JOSE layer over swift-crypto, X.509 helpers.
        .target(
            name: "StrongroomJOSE",
            dependencies: [
                "StrongroomCore",
                "COpenSSLCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        // Storage protocols and the one SQL implementation (SQLite | PostgreSQL).
        .target(
            name: "StrongroomStorage",
            dependencies: [
                "StrongroomCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                // SQLiteDriver: the SQLite C API, Debian's libsqlite3-dev (see the comment there).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "AsyncKit", package: "async-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Profiles as ordered lists of named checks; client/service configuration checks.
        .target(
            name: "StrongroomPolicy",
            dependencies: ["StrongroomCore"],
            swiftSettings: swiftSettings
        ),
        // The protocol engine: one processor per endpoint. Never imports the HTTP framework.
        .target(
            name: "StrongroomEngine",
            dependencies: [
                "StrongroomCore", "StrongroomJOSE", "StrongroomStorage", "StrongroomPolicy",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTPS transport, pages, admin API, metrics endpoint.
        .target(
            name: "StrongroomServer",
            dependencies: [
                "StrongroomCore", "StrongroomEngine", "StrongroomJOSE", "StrongroomStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Pages")],
            swiftSettings: swiftSettings
        ),
        // The demo kit and its test PKI: TEST MATERIAL, used by the executable and the tests only.
        // No production target depends on it.
        .target(
            name: "StrongroomDemo",
            dependencies: [
                "StrongroomCore", "StrongroomJOSE",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "strongroom",
            dependencies: [
                "StrongroomCore", "StrongroomServer", "StrongroomEngine", "StrongroomStorage", "StrongroomJOSE", "StrongroomPolicy",
                "StrongroomDemo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fuzz targets (one input in, invariants checked), replayed over the corpus by the tests and
        // driven by libFuzzer through strongroom-fuzz. Test material: no production target depends on it.
        .target(
            name: "StrongroomFuzzTargets",
            dependencies: [
                "StrongroomCore", "StrongroomJOSE", "StrongroomStorage", "StrongroomEngine", "StrongroomServer", "StrongroomDemo",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // libFuzzer's driver entry point, declared weak so the executable also links without it.
        .target(name: "CStrongroomFuzzDriver"),
        .executableTarget(
            name: "StrongroomFuzz",
            dependencies: ["StrongroomFuzzTargets", "CStrongroomFuzzDriver"],
            swiftSettings: swiftSettings,
            linkerSettings: fuzzing ? [.unsafeFlags(fuzzFlags)] : []
        ),
        .testTarget(
            name: "StrongroomTests",
            dependencies: [
                "StrongroomCore", "StrongroomJOSE", "StrongroomStorage", "StrongroomPolicy", "StrongroomEngine", "StrongroomServer",
                "StrongroomDemo", "StrongroomFuzzTargets",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
