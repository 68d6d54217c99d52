import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// `verify --shard I/N` and `--combine`: the shards' reports, joined, give the verdict, findings
/// and event counts of an unsharded run, for an intact store and for a tampered one.
@Suite struct ShardedVerifyTests {
    static func store() async throws -> (path: String, key: Ed25519PrivateKey) {
        let dir = TestSupport.temporaryDirectory("shards")
        let key = try Ed25519PrivateKey.generate()
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        // Segment n is batch n, however slowly this runs: no seal or heartbeat by the clock.
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 86_400
        let store = try AuditStore(configuration: config, signingKey: key)
        for b in 0..<11 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 25, prefix: "s\(b)")))
            try await store.sealNow()
        }
        _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 7, prefix: "open")))
        try await store.heartbeatNow()
        return (dir + "/data", key)
    }

    static func run(_ path: String, _ key: Ed25519PrivateKey, shard: Shard?) throws -> VerificationReport {
        var options = Verifier.Options(trustedKeys: [key.publicKey])
        options.shard = shard
        options.now = Date()
        let report = Verifier(source: DirectorySource(root: path), options: options).run()
        // Through JSON, as `verify --json` writes and `--combine` reads it.
        let encoder = JSONEncoder()
        return try JSONDecoder().decode(VerificationReport.self, from: encoder.encode(report))
    }

    static func key(_ f: Finding) -> String { "\(f.code)|\(f.file ?? "")|\(f.line ?? -1)|\(f.eventIndex ?? 0)|\(f.sequence ?? -1)" }

    static func compare(_ path: String, _ key: Ed25519PrivateKey, shards n: Int) throws -> (whole: VerificationReport, combined: VerificationReport) {
        let whole = try run(path, key, shard: nil)
        let parts = try (0..<n).map { try run(path, key, shard: Shard(index: $0, count: n)) }
        #expect(Set(parts.flatMap { $0.shardSegments ?? [] }).count == whole.segments)
        #expect(n == 1 || parts.allSatisfy { ($0.shardSegments?.count ?? 0) < whole.segments })
        let combined = try VerificationReport.combine(parts.shuffled())
        #expect(combined.intact == whole.intact)
        #expect(combined.sealedEvents == whole.sealedEvents)
        #expect(combined.openEvents == whole.openEvents)
        #expect(combined.treeSize == whole.treeSize && combined.treeRoot == whole.treeRoot)
        #expect(combined.findings.map(Self.key).sorted() == whole.findings.map(Self.key).sorted(), "\(combined.findings) vs \(whole.findings)")
        return (whole, combined)
    }

    @Test func shardsOfAnIntactStoreCombineIntoTheSameVerdict() async throws {
        let (path, key) = try await Self.store()
        for n in [1, 2, 3, 4, 16] {
            let (whole, _) = try Self.compare(path, key, shards: n)
            #expect(whole.intact)
        }
        // Missing or repeated shards are refused.
        let a = try Self.run(path, key, shard: Shard(index: 0, count: 3))
        let b = try Self.run(path, key, shard: Shard(index: 1, count: 3))
        #expect(throws: AuditSealError.self) { try VerificationReport.combine([a, b]) }
        #expect(throws: AuditSealError.self) { try VerificationReport.combine([a, b, b]) }
        #expect(Shard("3/3") == nil && Shard("2/3") == Shard(index: 2, count: 3) && Shard("x") == nil)
    }

    @Test func shardsOfATamperedStoreCombineIntoTheSameFindings() async throws {
        let (path, key) = try await Self.store()
        // An event changed in segment 3, segment 6 deleted, manifest 9's signature replaced.
        let seg3 = path + "/segments/000000000003.jsonl.gz"
        var lines = String(decoding: try GzipDecompressor.gunzip(try FileIO.readAll(path: seg3)), as: UTF8.self)
        lines = lines.replacingOccurrences(of: "s2-4\"", with: "s2-X\"")
        chmod(seg3, 0o644)
        try FileIO.writeAtomically(path: seg3, bytes: try GzipCompressor.gzip(Array(lines.utf8)))
        unlink(path + "/segments/000000000006.jsonl.gz")
        let sig9 = path + "/segments/000000000009.manifest.sig"
        chmod(sig9, 0o644)
        try FileIO.writeAtomically(path: sig9, bytes: Array((Base64.encode([UInt8](repeating: 7, count: 64)) + "\n").utf8))
        for n in [2, 3, 5] {
            let (whole, combined) = try Self.compare(path, key, shards: n)
            #expect(!whole.intact && !combined.intact)
            let codes = Set(combined.findings.map(\.code))
            #expect(codes.isSuperset(of: ["event-changed", "segment-missing", "bad-signature"]), "\(codes)")
        }
    }
}
