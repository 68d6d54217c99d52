import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

@Suite struct AuditStoreTests {
    func openStore(_ dir: String, key: Ed25519PrivateKey, maxBytes: Int = 64 << 20, window: Int = 100_000) throws -> AuditStore {
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "node-a")
        config.segmentMaxBytes = maxBytes
        config.duplicateWindow = window
        return try AuditStore(configuration: config, signingKey: key)
    }

    func verify(_ dir: String, key: Ed25519PrivateKey) -> VerificationReport {
        Verifier(source: DirectorySource(root: dir + "/data"), options: .init(trustedKeys: [key.publicKey])).run()
    }

    @Test func realEventsAreStoredByteForByteAndVerify() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        let store = try openStore(dir, key: key)
        let corpus = try TestSupport.corpusEvents()
        let result = try await store.append(corpus)
        // Two corpus events repeat an earlier event's auditID and stage.
        #expect(result.stored + result.duplicates == corpus.count)
        #expect(result.firstIndex == 0)
        try await store.close()
        let report = verify(dir, key: key)
        #expect(report.intact, "\(report.findings)")
        #expect(report.sealedEvents == UInt64(result.stored))
        #expect(report.trust == "public-keys")
        var expected = [String]()
        var seen = Set<String>()
        for i in 0..<corpus.count where seen.insert(corpus.auditID(i) + "/" + corpus.stage(i)).inserted {
            expected.append(String(decoding: corpus.line(i), as: UTF8.self))
        }
        #expect(try TestSupport.storedLines(dir + "/data") == expected)
    }

    /// Errors are told apart by their code, never their text: a second opener of a directory, and
    /// an append after the store closed.
    @Test func aSecondOpenerAndALateAppendGetTheirCodes() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        let store = try openStore(dir, key: key)
        #expect(throws: AuditSealError.self) { _ = try openStore(dir, key: key) }
        do { _ = try openStore(dir, key: key) } catch let error as AuditSealError { #expect(error.code == .directoryInUse) }
        try await store.close()
        do {
            _ = try await store.append(try TestSupport.corpusEvents())
            Issue.record("an append after close was accepted")
        } catch let error as AuditSealError {
            #expect(error.code == .shuttingDown)
        }
    }

    @Test func aResentBatchIsStoredOnceEvenAfterARestart() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        let batch = try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 50))
        var store = try openStore(dir, key: key)
        #expect(try await store.append(batch) == AppendResult(stored: 50, duplicates: 0, firstIndex: 0))
        #expect(try await store.append(batch) == AppendResult(stored: 0, duplicates: 50, firstIndex: nil))
        try await store.sealNow()
        try await store.close()
        store = try openStore(dir, key: key)
        // The window is rebuilt from the sealed segment.
        #expect(try await store.append(batch) == AppendResult(stored: 0, duplicates: 50, firstIndex: nil))
        let more = try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 10, start: 45))
        #expect(try await store.append(more) == AppendResult(stored: 5, duplicates: 5, firstIndex: 50))
        try await store.close()
        #expect(verify(dir, key: key).intact)
        #expect(try TestSupport.storedLines(dir + "/data").count == 55)
    }

    @Test func concurrentAppendsAreAllDurableInOneUnbrokenChain() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        let store = try openStore(dir, key: key, maxBytes: 200_000)
        try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for b in 0..<40 {
                group.addTask {
                    try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 25, prefix: "b\(b)")))
                }
            }
            var total = 0
            for try await result in group { total += result.stored }
            #expect(total == 1000)
        }
        try await store.close()
        let report = verify(dir, key: key)
        #expect(report.intact, "\(report.findings)")
        #expect(report.sealedEvents == 1000)
        // Each batch's events stay together and in order.
        let lines = try TestSupport.storedLines(dir + "/data")
        #expect(Set(lines).count == 1000)
    }

    @Test func theChainContinuesAcrossRestartsAndSegments() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        for round in 0..<3 {
            let store = try openStore(dir, key: key, maxBytes: 30_000)
            for b in 0..<4 {
                _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 10, prefix: "r\(round)b\(b)")))
            }
            try await store.heartbeatNow()
            try await store.close()
        }
        let report = verify(dir, key: key)
        #expect(report.intact, "\(report.findings)")
        #expect(report.sealedEvents == 120)
        #expect(report.heartbeats >= 3)
        let ids = try TestSupport.auditIDs(TestSupport.storedLines(dir + "/data"))
        #expect(ids.first == "r0b0-0")
        #expect(ids.last == "r2b3-9")
    }

    /// Stores that cut segments (through the pipeline's spare) verify; a clean stop leaves no spare, and
    /// one left by a crash is removed at the next start without a note (an interrupted segment,
    /// `NAME.wal.tmp`, still gets one).
    @Test func cutsUseTheSpareAndAStopLeavesNone() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        var store = try openStore(dir, key: key, maxBytes: 20_000)
        for b in 0..<12 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 10, prefix: "b\(b)")))
            if b % 4 == 3 { try await store.sealNow() }
        }
        try await store.close()
        let wal = dir + "/data/wal"
        #expect(try FileIO.list(wal).filter { $0.hasSuffix(".tmp") }.isEmpty)
        let report = verify(dir, key: key)
        #expect(report.intact, "\(report.findings)")
        #expect(report.sealedEvents == 120)
        #expect(report.segments >= 4)

        #expect(FileManager.default.createFile(atPath: wal + "/next.wal.tmp", contents: Data()))
        #expect(FileManager.default.createFile(atPath: wal + "/00000000000000000120.wal.tmp", contents: Data("ASWAL".utf8)))
        store = try openStore(dir, key: key)
        #expect(store.recoveryNotes == ["removed 00000000000000000120.wal.tmp: a segment whose creation was interrupted"])
        _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 5, prefix: "after")))
        try await store.close()
        #expect(try FileIO.list(wal).filter { $0.hasSuffix(".tmp") }.isEmpty)
        #expect(verify(dir, key: key).intact)
    }

    @Test func eventsLargerThanTheReadBufferAreRecoveredAndSealed() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        let store = try openStore(dir, key: key)
        let big = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"big","stage":"ResponseComplete","requestObject":{"data":""# + String(repeating: "x", count: 5 << 20) + #""}},{"auditID":"small","stage":"ResponseComplete"}]}"#
        _ = try await store.append(try EventScanner(mode: .eventList).scan(Array(big.utf8)))
        let image = TestSupport.temporaryDirectory() + "/image"
        try FileManager.default.copyItem(atPath: dir + "/data", toPath: image)
        try await store.close()
        // Recovery reads the 5 MB record through its buffer; sealing maps the file.
        let recovered = try AuditStore(configuration: StoreConfiguration(dataDirectory: image, nodeName: "node-a"), signingKey: key)
        #expect(recovered.status.nextIndex == 2)
        try await recovered.close()
        for path in [dir + "/data", image] {
            let report = Verifier(source: DirectorySource(root: path), options: .init(trustedKeys: [key.publicKey])).run()
            #expect(report.intact, "\(report.findings)")
            #expect(report.sealedEvents == 2)
        }
    }

    @Test func anotherProcessCannotOpenTheSameDirectory() throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        let store = try openStore(dir, key: key)
        #expect(throws: AuditSealError.self) { _ = try openStore(dir, key: key) }
        _ = store
    }

    /// Like etcd's repair test: cut the write-ahead segment at many offsets; recovery keeps every
    /// whole record before the cut, keeps the cut bytes as evidence, and the store verifies.
    @Test(.tier(.slow)) func recoveryKeepsEveryWholeRecordWhereverTheSegmentIsCut() async throws {
        let dir = TestSupport.temporaryDirectory()
        let key = try TestSupport.signingKey(in: dir).key
        // One write-ahead segment, however slowly this runs (a sanitizer, a loaded machine): no
        // rotation by age while the batches go in, and no heartbeat committing to records the cuts
        // below then remove (a heartbeat follows the records' fsync, so a real power cut cannot
        // lose them; cutting under it is tampering, and verify says so).
        var liveConfig = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "node-a")
        liveConfig.segmentMaxAge = 86_400
        liveConfig.heartbeatInterval = 86_400
        let store = try AuditStore(configuration: liveConfig, signingKey: key)
        for b in 0..<4 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 3, prefix: "c\(b)")))
        }
        // A crash image: the files as they are while the store runs.
        let image = TestSupport.temporaryDirectory() + "/image"
        try FileManager.default.copyItem(atPath: dir + "/data", toPath: image)
        try await store.close()
        let wal = try StoreLayout(root: image).walPaths()
        #expect(wal.count == 1)
        // Record boundaries, from the reader.
        var boundaries = [Int]()
        let outcome = try WriteAheadReader(path: wal[0]).read { _, line, _ in boundaries.append(line.count + 16) }
        let headerEnd = outcome.validLength - boundaries.reduce(0, +)
        var ends = [headerEnd]
        for size in boundaries { ends.append(ends.last! + size) }
        for cut in stride(from: headerEnd, through: outcome.validLength, by: 211) {
            let copy = TestSupport.temporaryDirectory() + "/data"
            try FileManager.default.copyItem(atPath: image, toPath: copy)
            let path = try StoreLayout(root: copy).walPaths()[0]
            #expect(truncate(path, off_t(cut)) == 0)
            var config = StoreConfiguration(dataDirectory: copy, nodeName: "node-a")
            config.segmentMaxBytes = 1 << 20
            let recovered = try AuditStore(configuration: config, signingKey: key)
            let whole = ends.lastIndex { $0 <= cut }!
            #expect(recovered.status.nextIndex == UInt64(whole), "cut at \(cut)")
            #expect(FileIO.exists(path + ".broken-\(ends[whole])") == (cut != ends[whole]))
            try await recovered.close()
            let report = Verifier(source: DirectorySource(root: copy), options: .init(trustedKeys: [key.publicKey])).run()
            #expect(report.intact, "cut at \(cut): \(report.findings)")
        }
    }
}
