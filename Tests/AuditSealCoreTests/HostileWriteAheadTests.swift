@testable import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The files the daemon reads at its start are hostile input too. A write-ahead segment's CRC and
/// check values stop accidents, not a crafted file, which carries correct ones: a first index near
/// 2^64 made the next-index arithmetic trap in the reader, and so stopped both `verify` and the
/// daemon's start. Recovery read manifests without the structural rules: an event count near 2^63
/// trapped its sum. Both are now refused with the file named.
@Suite struct HostileWriteAheadTests {
    /// A write-ahead file with a correct header CRC and one correctly checked record at `firstIndex`.
    static func crafted(firstIndex: UInt64, chainID: String = String(repeating: "ab", count: 16)) throws -> [UInt8] {
        let header = WriteAheadHeader(chainID: chainID, firstIndex: firstIndex, chainHashBefore: String(repeating: "00", count: 32),
                                      treeFrontier: [], createdAt: "2026-11-29T09:00:00Z")
        var bytes = try WriteAheadFormat.encodeHeader(header)
        let line = Array(#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x","stage":"ResponseComplete"}"#.utf8)
        line.withUnsafeBytes { WriteAheadFormat.appendRecordForVectors(index: firstIndex, line: $0, to: &bytes) }
        return bytes
    }

    @Test(arguments: [UInt64.max, Manifest.maximumTreeSize + 1])
    func aFirstIndexBeyondAnyRealChainIsRefusedNotATrap(_ firstIndex: UInt64) throws {
        let path = TestSupport.temporaryDirectory("hostile-wal") + "/crafted.wal"
        try FileIO.writeAtomically(path: path, bytes: try Self.crafted(firstIndex: firstIndex))
        #expect(throws: AuditSealError.self) { try WriteAheadReader(path: path).read { _, _, _ in } }
        // At the bound it is read as any other file: one record, no damage.
        try FileIO.writeAtomically(path: path, bytes: try Self.crafted(firstIndex: Manifest.maximumTreeSize))
        let outcome = try WriteAheadReader(path: path).read { _, _, _ in }
        #expect(outcome.recordCount == 1 && outcome.damage == nil)
    }

    /// Dropped into a sealed store: verify reports the file and goes on (exit 1, not a crash), and
    /// the store refuses to open rather than guess (as for a header whose CRC fails).
    @Test func aCraftedSegmentInAStoreIsAFindingAndTheStoreRefusesToOpen() async throws {
        let (path, key) = try await HostileManifestTests.store()
        let layout = StoreLayout(root: path)
        let chainID = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: path + "/chain.json")).chainID
        try FileIO.writeAtomically(path: layout.walPath(firstIndex: UInt64.max), bytes: try Self.crafted(firstIndex: UInt64.max, chainID: chainID))

        let report = HostileManifestTests.verify(path, key)
        #expect(!report.intact)
        #expect(report.findings.contains { $0.code == "wal-unreadable" && ($0.file ?? "").hasSuffix("18446744073709551615.wal") }, "\(report.findings)")

        var config = StoreConfiguration(dataDirectory: path, nodeName: "cp-1")
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 86_400
        #expect(throws: AuditSealError.self) { _ = try AuditStore(configuration: config, signingKey: key) }
    }

    /// Recovery reads the manifests for the duplicate window and the chain's tip; one that breaks
    /// the format's rules (docs/FORMAT.md §5) stops the start, named, and verify reports it.
    @Test func aManifestBreakingTheRulesStopsTheStartNamedNotATrap() async throws {
        let (path, key) = try await HostileManifestTests.store()
        let (first, _) = try HostileManifestTests.segments(path)[0]
        // Unsigned: recovery does not check signatures (verify does); the newest segment keeps
        // its count, so the window's sum went on to this one and overflowed.
        try HostileManifestTests.rewrite(path, first, signWith: nil) { $0.eventCount = Int.max }

        var config = StoreConfiguration(dataDirectory: path, nodeName: "cp-1")
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 86_400
        let error = #expect(throws: AuditSealError.self) { _ = try AuditStore(configuration: config, signingKey: key) }
        #expect(String(describing: error).contains(Manifest.stem(first) + ".manifest.json"), "\(String(describing: error))")
        #expect(!HostileManifestTests.verify(path, key).intact)
    }

    /// A store left open (as a running receiver leaves it): `sealed` events in a sealed segment, then
    /// `open` events in the write-ahead log; nothing seals or beats by time.
    static func openStore(_ label: String, sealed: Int = 10, open: Int = 5) async throws -> (dir: String, key: Ed25519PrivateKey, store: AuditStore) {
        let dir = TestSupport.temporaryDirectory(label)
        let key = try TestSupport.signingKey(in: dir).key
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 86_400
        let store = try AuditStore(configuration: config, signingKey: key)
        if sealed > 0 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: sealed, prefix: "sealed")))
            try await store.sealNow()
        }
        if open > 0 { _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: open, prefix: "open"))) }
        return (dir, key, store)
    }

    /// Issue 32: the write-ahead header's chainID was never compared with chain.json, nor its chain
    /// state with the chain at its firstIndex. A header rewritten with a correct CRC is now
    /// `wal-header-mismatch`; the untouched open segment verifies intact.
    @Test(arguments: ["chainID", "chainHashBefore", "treeFrontier"])
    func aRewrittenHeaderIsAFinding(_ field: String) async throws {
        let (dir, key, store) = try await Self.openStore("wal-header")
        try await store.heartbeatNow()
        let layout = StoreLayout(root: dir + "/data")
        let wal = try #require(try layout.walPaths().first)
        func verify() -> VerificationReport {
            Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
        }
        let untouched = verify()
        #expect(untouched.intact && untouched.openEvents == 5, "\(untouched.findings)")
        // The header rewritten with a correct CRC, its records kept.
        let bytes = try FileIO.readAll(path: wal)
        let length = Int(bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        var header = try StableJSON.decode(WriteAheadHeader.self, from: Array(bytes[16..<(16 + length)]))
        switch field {
        case "chainID": header.chainID = String(repeating: "cd", count: 16)
        case "chainHashBefore": header.chainHashBefore = String(repeating: "00", count: 32)
        default: header.treeFrontier = header.treeFrontier.reversed() + [String(repeating: "11", count: 32)]
        }
        try FileIO.writeAtomically(path: wal, bytes: try WriteAheadFormat.encodeHeader(header) + bytes[(16 + length)...])
        let report = verify()
        #expect(!report.intact, "\(field)")
        #expect(report.findings.contains { $0.code == "wal-header-mismatch" }, "\(field): \(report.findings)")
        try? await store.close()  // its sealer reads the rewritten file: whether it seals is not the point
    }

    /// Issue 32: a directory left by a legitimate crash got a false events-overlap; FORMAT.md §4
    /// says a verifier reading a live directory applies recovery's two rules. (1) A segment whose
    /// write failed at record k keeps its unacknowledged tail while appends go on in a successor
    /// starting at k. (2) A successor whose creation failed holds no record and starts inside its
    /// predecessor's records. Both verify intact, with a warning.
    @Test(arguments: [1, 2])
    func aLiveDirectoryAfterAFailedWriteIsNoOverlap(_ rule: Int) async throws {
        let (dir, key, store) = try await Self.openStore("wal-live")
        let layout = StoreLayout(root: dir + "/data")
        let walA = try #require(try layout.walPaths().first)
        let a = try FileIO.readAll(path: walA)
        // The chain state after A's first two records: B's header, as the committer would write it.
        let sha = SHA256()
        var leaves = [SHA256Digest]()
        let firstTwo = try WriteAheadReader(path: walA).read(recordLimit: 2) { _, _, leaf in leaves.append(leaf) }
        let h = firstTwo.header
        var state = ChainState(chainID: try #require(Hex.decode(h.chainID)), nextIndex: h.firstIndex, head: try #require(SHA256Digest(hex: h.chainHashBefore)),
                               tree: try #require(CompactRange(size: h.firstIndex, hashes: h.treeFrontier.compactMap(SHA256Digest.init(hex:)))))
        for leaf in leaves { state.append(leaf: leaf, using: sha) }
        let header = WriteAheadHeader(chainID: h.chainID, firstIndex: h.firstIndex + 2, chainHashBefore: state.head.hex,
                                      treeFrontier: state.tree.hashes.map(\.hex), createdAt: h.createdAt)
        // Rule 1: B holds A's records from the third on; A keeps them too (its tail after the failure).
        // Rule 2: B holds nothing.
        let records = rule == 1 ? Array(a[firstTwo.validLength...]) : []
        try FileIO.writeAtomically(path: layout.walPath(firstIndex: h.firstIndex + 2), bytes: try WriteAheadFormat.encodeHeader(header) + records)
        let report = Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
        #expect(report.intact, "rule \(rule): \(report.findings)")
        #expect(report.findings.contains { $0.code == "wal-torn-tail" && $0.severity == .warning }, "rule \(rule): \(report.findings)")
        #expect(report.openEvents == 5, "rule \(rule)")
        try? await store.close()
    }

    /// Issue 32: verify counted the write-ahead records' unsigned backfill bits in backfilledEvents,
    /// though §11 says the count comes from the signed marks. Open: 0; sealed: all of them.
    @Test func backfilledEventsCountsOnlyTheSignedMarks() async throws {
        let (dir, key, store) = try await Self.openStore("wal-backfilled", sealed: 0, open: 0)
        var batch = try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 6, prefix: "fill"))
        batch.backfilled = true
        _ = try await store.append(batch)
        try await store.heartbeatNow()
        func verify() -> VerificationReport {
            Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
        }
        let open = verify()
        #expect(open.intact && open.openEvents == 6 && open.backfilledEvents == 0, "\(open.findings)")
        try await store.sealNow()
        let sealed = verify()
        #expect(sealed.intact && sealed.backfilledEvents == 6, "\(sealed.findings)")
        try await store.close()
    }

    /// Issue 32: the backfill mark `B` lay outside every check value, so clearing it in a write-ahead
    /// file erased the mark with no finding (and the sealer then signed the altered marks). In an
    /// "ASWAL003" file the check value covers it: the flipped record is `wal-damaged`.
    @Test func clearingABackfillMarkIsAFinding() async throws {
        let (dir, key, store) = try await Self.openStore("wal-mark", sealed: 0, open: 2)
        var batch = try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 3, prefix: "fill"))
        batch.backfilled = true
        _ = try await store.append(batch)
        try await store.heartbeatNow()
        let wal = try #require(try StoreLayout(root: dir + "/data").walPaths().first)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: wal)))
        #expect(Array(bytes.prefix(8)) == Array("ASWAL003".utf8))
        // Walk to the third record (the first backfilled one) and clear its mark.
        func be32(_ b: [UInt8], _ i: Int) -> UInt32 { b[i..<(i + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        var offset = 16 + Int(be32(bytes, 8))
        for _ in 0..<2 { offset += 16 + Int(be32(bytes, offset) & 0x7fff_ffff) }
        #expect(bytes[offset] & 0x80 != 0)
        func verify() -> VerificationReport {
            Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
        }
        #expect(verify().intact)
        bytes[offset] &= 0x7f
        try FileIO.writeAtomically(path: wal, bytes: bytes)
        let report = verify()
        #expect(!report.intact && report.findings.contains { $0.code == Finding.Code.walDamaged.rawValue }, "\(report.findings)")
        // The same flip in a file of the previous version ("ASWAL002", mark unchecked) goes unseen,
        // which is why the version changed: such files are still read, with the old rule.
        var legacy = bytes
        legacy.replaceSubrange(0..<8, with: Array("ASWAL002".utf8))
        let legacyPath = TestSupport.temporaryDirectory("wal-mark-legacy") + "/x.wal"
        // Re-derive every check value with M = 0, as a version-2 writer did.
        var o = 16 + Int(be32(legacy, 8))
        let sha = SHA256()
        var marked = 0
        while o + 16 <= legacy.count {
            let word = be32(legacy, o)
            let length = Int(word & 0x7fff_ffff)
            if word & 0x8000_0000 != 0 { marked += 1 }
            let leaf = legacy.withUnsafeBytes { MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: $0[(o + 16)..<(o + 16 + length)]), using: sha) }
            legacy.replaceSubrange((o + 4)..<(o + 8), with: leaf.bytes.prefix(4))
            o += 16 + length
        }
        try FileIO.writeAtomically(path: legacyPath, bytes: legacy)
        let outcome = try WriteAheadReader(path: legacyPath).read { _, _, _ in }
        #expect(outcome.damage == nil && outcome.recordCount == 5 && marked == 2 && outcome.backfilled.count == 2)
        try? await store.close()
    }
}
