// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "auditseal",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "auditseal", targets: ["auditseal"]),
        .library(name: "AuditSealCore", targets: ["AuditSealCore"]),
        // Test helper: LD_PRELOAD interposer that fails chosen write/fsync/rename calls (I/O-error tests).
        .library(name: "AuditSealFaultInjection", type: .dynamic, targets: ["CAuditSealFaultInjection"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),  // no FullFoundation: the full Foundation links ICU's data (docs/OPERATIONS.md "Image size")
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),  // tests only: they read rendered manifests with it
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Thin C shims over Debian's libcrypto (SHA-256, Ed25519) and zlib (gzip).
        .target(
            name: "CAuditSealCrypto",
            linkerSettings: [.linkedLibrary("crypto")]
        ),
        .target(
            name: "CAuditSealZlib",
            linkerSettings: [.linkedLibrary("z")]
        ),
        // ISA-L's igzip inflate (Debian's libisal-dev): reads the sealed gzip files 3-4x faster than zlib.
        .target(
            name: "CAuditSealISAL",
            linkerSettings: [.linkedLibrary("isal")]
        ),
        // Debian's SQLite (libsqlite3-dev), for the reconcile index.
        .systemLibrary(name: "CAuditSealSQLite"),
        // Debian's libyaml (libyaml-dev), the parser under AuditSealYAML.
        .systemLibrary(name: "CAuditSealYAML"),
        // The data's whole journey on disk: scanning, chaining, write-ahead log, sealing, verification.
        .target(
            name: "AuditSealCore",
            dependencies: ["CAuditSealCrypto", "CAuditSealZlib", "CAuditSealISAL"]
        ),
        // The webhook receiver: HTTP(S) ingest, authentication, health and metrics, lifecycle.
        .target(
            name: "AuditSealServer",
            dependencies: [
                "AuditSealYAML",
                "AuditSealCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The off-node watcher: follows every node's chain in the bucket, alerts on findings.
        .target(
            name: "AuditSealWatch",
            dependencies: [
                "AuditSealCore",
                "AuditSealShipping",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Witnessing (C2SP tlog-witness): the witness server, and the receiver's submission of its checkpoints.
        .target(
            name: "AuditSealWitness",
            dependencies: [
                "AuditSealCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Completeness: the API servers' drop counters, and backfilling from their log files with a
        // persistent (auditID, stage) index in SQLite (Debian's, through CAuditSealSQLite).
        .target(
            name: "AuditSealReconcile",
            dependencies: [
                "AuditSealYAML",
                "AuditSealCore",
                "CAuditSealSQLite",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // YAML from operators (serve's config, audit policies, kubeconfigs), parsed by libyaml and checked before values are built.
        .target(
            name: "AuditSealYAML",
            dependencies: [
                "AuditSealCore",
                "CAuditSealYAML",
            ]
        ),
        // Putting auditseal into a cluster: generated certificates and webhook kubeconfig, audit-policy checks.
        .target(
            name: "AuditSealDeploy",
            dependencies: [
                "AuditSealYAML",
                "AuditSealCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // Redaction before the chain, and the auditors' vault of the originals (docs/FORMAT.md §12).
        .target(
            name: "AuditSealRedaction",
            dependencies: [
                "AuditSealCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Forwarding sealed events to Falco, SIEMs and OpenTelemetry (sinks: in serve's configuration).
        .target(
            name: "AuditSealForwarding",
            dependencies: [
                "AuditSealYAML",
                "AuditSealCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Shipping sealed segments to S3 Object Lock and verifying them from the bucket.
        .target(
            name: "AuditSealShipping",
            dependencies: [
                "AuditSealCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "auditseal",
            dependencies: [
                "AuditSealCore",
                "AuditSealServer",
                "AuditSealShipping",
                "AuditSealDeploy",
                "AuditSealWatch",
                "AuditSealWitness",
                "AuditSealReconcile",
                "AuditSealRedaction",
                "AuditSealForwarding",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            plugins: ["BuildInfo"]
        ),
        // Throughput harness: `swift run -c release auditseal-bench`.
        .executableTarget(
            name: "auditseal-bench",
            dependencies: ["AuditSealCore"],
            path: "Benchmarks/auditseal-bench"
        ),
        // Load generator for Benchmarks/load.sh: `swift run -c release auditseal-load --help`.
        .executableTarget(
            name: "auditseal-load",
            path: "Benchmarks/auditseal-load"
        ),
        // libFuzzer targets (scripts/fuzz.sh builds them with -sanitize=fuzzer,address); built
        // normally it replays inputs through a target (the tests run the seed corpus that way).
        .executableTarget(
            name: "auditseal-fuzz",
            dependencies: ["AuditSealCore", "AuditSealServer", "AuditSealShipping", "AuditSealReconcile", "AuditSealRedaction"],
            path: "Fuzz/auditseal-fuzz"
        ),
        // `auditseal --version`: writes the git commit into the build (a prebuild command).
        .plugin(name: "BuildInfo", capability: .buildTool(), path: "Plugins/BuildInfo"),
        // Test helper: appends numbered batches and prints each acknowledgement (for kill -9 tests).
        .executableTarget(
            name: "auditseal-crashwriter",
            dependencies: ["AuditSealCore"],
            path: "Tests/CrashWriter"
        ),
        .target(
            name: "CAuditSealFaultInjection",
            path: "Tests/FaultInjection",
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]
        ),
        // Helpers shared by the test targets: temporary directories, fixtures, event generators, processes.
        .target(
            name: "AuditSealTestSupport",
            dependencies: ["AuditSealCore", "AuditSealShipping"],
            path: "Tests/AuditSealTestSupport"
        ),
        .testTarget(
            name: "AuditSealCoreTests",
            dependencies: ["AuditSealCore", "AuditSealTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "AuditSealShippingTests",
            dependencies: ["AuditSealShipping", "AuditSealCore", "AuditSealServer", "AuditSealTestSupport"]
        ),
        .testTarget(
            name: "AuditSealDeployTests",
            dependencies: ["AuditSealDeploy", "AuditSealServer", "AuditSealWatch", "AuditSealTestSupport", .product(name: "Yams", package: "Yams")],
            exclude: ["Fixtures"]
        ),
        // The CLI as users run it (the auditseal binary), on stores built from the real corpus.
        .testTarget(
            name: "AuditSealCLITests",
            dependencies: ["AuditSealCore", "AuditSealTestSupport"]
        ),
        .testTarget(
            name: "AuditSealRedactionTests",
            dependencies: ["AuditSealRedaction", "AuditSealCore", "AuditSealTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "AuditSealForwardingTests",
            dependencies: ["AuditSealForwarding", "AuditSealCore"]
        ),
        .testTarget(
            name: "AuditSealReconcileTests",
            dependencies: ["AuditSealReconcile", "AuditSealRedaction", "AuditSealCore", "AuditSealTestSupport"]
        ),
        .testTarget(
            name: "AuditSealWitnessTests",
            dependencies: [
                "AuditSealWitness", "AuditSealCore", "AuditSealTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AuditSealYAMLTests",
            dependencies: ["AuditSealYAML", "AuditSealServer", "AuditSealDeploy", "AuditSealReconcile"]
        ),
        .testTarget(
            name: "AuditSealServerTests",
            dependencies: ["AuditSealServer", "AuditSealCore", "AuditSealShipping", "AuditSealWatch", "AuditSealTestSupport",
                           .product(name: "Yams", package: "Yams"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
    ]
)
