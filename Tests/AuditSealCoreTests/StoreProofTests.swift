import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Proofs from a sealed store of a million events (AUDITSEAL_PROOF_EVENTS overrides the size):
/// every 1000th event's inclusion proof verifies, a changed line fails, consistency proofs between
/// every pair of 50 successive checkpoints verify, and a single proof reads only its own segment.
@Suite(.serialized) struct StoreProofTests {
    static let total = Int(ProcessInfo.processInfo.environment["AUDITSEAL_PROOF_EVENTS"] ?? "") ?? 1_000_000
    static let segmentsWanted = 50

    static func line(_ i: Int) -> String {
        #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"proof-\#(i)","stage":"ResponseComplete","verb":"\#(i % 97 == 0 ? "delete" : "get")","user":{"username":"alice@example.com"}}"#
    }

    /// A store of `total` events sealed into 50 segments, and its key.
    static func build() async throws -> (path: String, key: Ed25519PrivateKey) {
        let dir = TestSupport.temporaryDirectory("proofs")
        let key = try Ed25519PrivateKey.generate()
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        // Segments seal only where the loop says, however slow the run (under AddressSanitizer
        // a segment took longer than the default age limit and sealed early).
        config.segmentMaxAge = 86_400
        config.gzipLevel = 1
        let store = try AuditStore(configuration: config, signingKey: key)
        let perSegment = (total + segmentsWanted - 1) / segmentsWanted
        var next = 0
        while next < total {
            let end = min(total, next + perSegment)
            var start = next
            while start < end {
                let chunkEnd = min(end, start + 10_000)
                let text = (start..<chunkEnd).map(line).joined(separator: "\n") + "\n"
                _ = try await store.append(try EventScanner(mode: .stream).scan(Array(text.utf8)))
                start = chunkEnd
            }
            try await store.sealNow()
            next = end
        }
        try await store.close()
        return (dir + "/data", key)
    }

    @Test(.tier(.slow)) func proofsFromAMillionEventStore() async throws {
        let (path, key) = try await Self.build()
        let source = DirectorySource(root: path)
        let report = Verifier(source: source, options: .init(trustedKeys: [key.publicKey])).run()
        #expect(report.intact, "\(report.findings)")
        #expect(report.treeSize == UInt64(Self.total))

        let manifests = try StoreTree.loadManifests(from: source)
        let segments = manifests.filter { $0.type == "segment" && $0.eventCount > 0 }.sorted { $0.sequence < $1.sequence }
        #expect(segments.count == Self.segmentsWanted)
        #expect(segments.allSatisfy { $0.treeNodesFile != nil })

        // One event: only its own segment is decompressed.
        do {
            let tree = StoreTree(manifests: manifests, read: source.read)
            let builder = ProofBuilder(tree: tree, source: source)
            let target = try #require(builder.newestProvable())
            #expect(target.treeSize == UInt64(Self.total))
            let proof = try builder.inclusion(indexes: [UInt64(Self.total / 2 + 7)], at: target)
            #expect(tree.segmentsRead.count <= 2, "read \(tree.segmentsRead.count) segments for one event")
            #expect(ProofVerifier.verify(proof, logKeys: [key.publicKey], policy: nil).holds)
        }

        // Every 1000th event, in one proof file.
        let tree = StoreTree(manifests: manifests, read: source.read)
        let builder = ProofBuilder(tree: tree, source: source)
        let target = try #require(builder.newestProvable())
        let indexes = stride(from: 0, to: Self.total, by: 1000).map(UInt64.init)
        let proof = try builder.inclusion(indexes: indexes, at: target)
        let decoded = try JSONDecoder().decode(ProofFile.self, from: Data(try proof.encoded()))
        let result = ProofVerifier.verify(decoded, logKeys: [key.publicKey], policy: nil)
        #expect(result.holds, "\(result.problems.prefix(3))")
        #expect(result.facts.count == indexes.count + 1)
        #expect(decoded.entries?[3].line == Self.line(3000))

        // A changed line (one byte) and a moved index fail.
        var changed = decoded
        changed.entries![5].line = changed.entries![5].line.replacingOccurrences(of: "alice", with: "alicf")
        let bad = ProofVerifier.verify(changed, logKeys: [key.publicKey], policy: nil)
        #expect(!bad.holds && bad.problems.count == 1 && bad.problems[0].hasPrefix("event 5000:"))
        var moved = decoded
        moved.entries![1].index += 1
        #expect(!ProofVerifier.verify(moved, logKeys: [key.publicKey], policy: nil).holds)
        // Another key's signature on the checkpoint is refused.
        #expect(!ProofVerifier.verify(decoded, logKeys: [try Ed25519PrivateKey.generate().publicKey], policy: nil).holds)

        // Consistency between every pair of the 50 successive segment checkpoints.
        var pairs = 0
        for (i, old) in segments.enumerated() {
            for new in segments[i...] {
                let file = try builder.consistency(from: old, to: new)
                let check = ProofVerifier.verify(file, logKeys: [key.publicKey], policy: nil)
                #expect(check.holds, "\(old.sequence)->\(new.sequence): \(check.problems)")
                pairs += 1
            }
        }
        #expect(pairs == Self.segmentsWanted * (Self.segmentsWanted + 1) / 2)

        // A consistency proof with a tampered hash fails.
        var c = try builder.consistency(from: segments[3], to: segments[40])
        c.proof![0] = String(repeating: "0", count: 64)
        #expect(!ProofVerifier.verify(c, logKeys: [key.publicKey], policy: nil).holds)
    }

    @Test func theTreeNodeIndexIsVerified() async throws {
        let dir = TestSupport.temporaryDirectory("nodes")
        let key = try Ed25519PrivateKey.generate()
        let config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        let store = try AuditStore(configuration: config, signingKey: key)
        let text = (0..<3000).map(Self.line).joined(separator: "\n") + "\n"
        _ = try await store.append(try EventScanner(mode: .stream).scan(Array(text.utf8)))
        try await store.close()
        let nodes = dir + "/data/segments/000000000001.nodes"
        // 3000 events complete 11 subtrees of 256, 5 of 512, 2 of 1024 and 1 of 2048.
        #expect(try FileIO.readAll(path: nodes).count == 19 * 32)
        var bytes = try FileIO.readAll(path: nodes)
        bytes[40] ^= 1
        chmod(nodes, 0o644)
        try FileIO.writeAtomically(path: nodes, bytes: bytes)
        let report = Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
        #expect(report.findings.map(\.code) == ["tree-nodes-modified"])
        unlink(nodes)
        let missing = Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
        #expect(missing.findings.map(\.code) == ["tree-nodes-missing"])
    }
}
