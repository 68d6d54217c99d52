// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "auditseal",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "auditseal", targets: ["auditseal"]),
        .library(name: "AuditSealCore", targets: ["AuditSealCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        // The data's whole journey on disk: scanning, chaining, write-ahead log, sealing, verification.
        .target(
            name: "AuditSealCore",
            dependencies: ["CAuditSealCrypto", "CAuditSealZlib"]
        ),
        .executableTarget(
            name: "auditseal",
            dependencies: [
                "AuditSealCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Throughput harness: `swift run -c release auditseal-bench`.
        .executableTarget(
            name: "auditseal-bench",
            dependencies: ["AuditSealCore"],
            path: "Benchmarks/auditseal-bench"
        ),
        // Test helper: appends numbered batches and prints each acknowledgement (for kill -9 tests).
        .executableTarget(
            name: "auditseal-crashwriter",
            dependencies: ["AuditSealCore"],
            path: "Tests/CrashWriter"
        ),
        .testTarget(
            name: "AuditSealCoreTests",
            dependencies: ["AuditSealCore"],
            exclude: ["Fixtures"]
        ),
    ]
)
