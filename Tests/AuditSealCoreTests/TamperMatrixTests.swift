import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// For every kind of tampering `verify` promises to find, tamper with a real sealed store and check
/// that verification fails and names the right place; the untouched store verifies.
@Suite struct TamperMatrixTests {
    struct Base: Sendable {
        var dir: String
        var key: Ed25519PrivateKey
        var otherKey: Ed25519PrivateKey
    }

    /// Builds the base store once for the whole suite.
    actor BaseStore {
        static let shared = BaseStore()
        private var task: Task<Base, Error>?

        func get() async throws -> Base {
            if let task { return try await task.value }
            let task = Task { try await TamperMatrixTests.build() }
            self.task = task
            return try await task.value
        }
    }

    /// A store with several sealed segments (real corpus events and generated ones) and a heartbeat
    /// covering events still in the write-ahead segment, copied while the store runs.
    static func build() async throws -> Base {
        let dir = TestSupport.temporaryDirectory("tamper-base")
        let key = try TestSupport.signingKey(in: dir).key
        var config = StoreConfiguration(dataDirectory: dir + "/live", nodeName: "cp-1")
        config.segmentMaxBytes = 30_000
        // Sealed by size and by the test only, however slowly this runs (sanitizers, a loaded
        // machine); the heartbeat interval stays short of the hour aCutTailIsFound… looks ahead.
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 600
        let store = try AuditStore(configuration: config, signingKey: key)
        _ = try await store.append(try TestSupport.corpusEvents())
        for b in 0..<6 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 10, prefix: "t\(b)")))
        }
        try await store.sealNow()
        _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 4, prefix: "open")))
        try await store.heartbeatNow()
        try FileManager.default.copyItem(atPath: dir + "/live", toPath: dir + "/data")
        try await store.close()
        return Base(dir: dir, key: key, otherKey: try Ed25519PrivateKey.generate())
    }

    /// A fresh copy of the base store to tamper with.
    func copy() async throws -> String {
        let path = TestSupport.temporaryDirectory() + "/data"
        try FileManager.default.copyItem(atPath: try await BaseStore.shared.get().dir + "/data", toPath: path)
        return path
    }

    func verify(_ path: String, now: Date = Date()) async throws -> VerificationReport {
        var options = Verifier.Options(trustedKeys: [try await BaseStore.shared.get().key.publicKey])
        options.now = now
        return Verifier(source: DirectorySource(root: path), options: options).run()
    }

    func segments(_ path: String) throws -> [(sequence: Int, manifest: Manifest)] {
        let layout = StoreLayout(root: path)
        return try layout.manifestSequences().map { ($0, try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: layout.manifestPath($0)))) }
            .filter { $0.1.type == "segment" }
    }

    /// Rewrites the lines of a sealed segment (as an attacker with root would).
    func rewrite(_ path: String, sequence: Int, _ edit: (inout [String]) -> Void) throws {
        let file = StoreLayout(root: path).segmentPath(sequence)
        var lines = String(decoding: try GzipDecompressor.gunzip(try FileIO.readAll(path: file)), as: UTF8.self)
            .split(separator: "\n").map(String.init)
        edit(&lines)
        try FileIO.writeAtomically(path: file, bytes: try GzipCompressor.gzip(Array((lines.joined(separator: "\n") + "\n").utf8)))
    }

    func errors(_ report: VerificationReport) -> [Finding] { report.findings.filter { $0.severity == .error } }

    @Test func theUntouchedStoreVerifies() async throws {
        let report = try await verify(try await copy())
        #expect(report.intact, "\(report.findings)")
        #expect(report.findings.isEmpty)
        #expect(report.segments >= 3)
        #expect(report.heartbeats == 1)
        #expect(report.openEvents == 4)
        #expect(report.sealedEvents == 86 + 60)  // 88 corpus events, 86 unique by auditID and stage
    }

    @Test func aChangedByteIsLocatedToItsLineAndEvent() async throws {
        let path = try await copy()
        let (sequence, manifest) = try segments(path)[1]
        try rewrite(path, sequence: sequence) { $0[4] = $0[4].replacingOccurrences(of: "\"verb\":\"", with: "\"verb\":\"x") }
        let found = errors(try await verify(path))
        #expect(found.count == 1)
        #expect(found.first?.code == "event-changed")
        #expect(found.first?.line == 5)
        #expect(found.first?.eventIndex == manifest.firstIndex! + 4)
        #expect(found.first?.auditID != nil)
    }

    /// Issue 32's finding names: bytes appended after the sealed gzip stream are segment-corrupt
    /// alone (every event recomputes: no segment-events-differ saying they do not); a stream cut
    /// mid-line names that line event-truncated (not event-changed), and the events after it deleted.
    @Test func garbageAfterTheStreamAndACutInsideALineAreNamedAsTheTableSays() async throws {
        let path = try await copy()
        let (sequence, manifest) = try segments(path)[0]
        let file = StoreLayout(root: path).segmentPath(sequence)
        let sealed = try FileIO.readAll(path: file)
        try FileIO.writeAtomically(path: file, bytes: sealed + Array("GARBAGE-GARBAGE-GARBAGE".utf8))
        #expect(errors(try await verify(path)).map(\.code) == ["segment-corrupt"])

        let lines = try GzipDecompressor.gunzip(sealed)
        let cut = Array(lines.dropLast(20))  // inside the last line
        try FileIO.writeAtomically(path: file, bytes: try GzipCompressor.gzip(cut))
        let cutFound = errors(try await verify(path))
        #expect(cutFound.map(\.code) == ["event-truncated"], "\(cutFound)")
        #expect(cutFound.first?.line == manifest.eventCount)

        // The gzip data cut: what is readable ends inside a line; the rest is deleted.
        try FileIO.writeAtomically(path: file, bytes: Array(sealed.dropLast(sealed.count / 3)))
        let codes = errors(try await verify(path)).map(\.code)
        #expect(codes.first == "segment-corrupt" && codes.contains("event-deleted") && !codes.contains("event-changed") && !codes.contains("segment-events-differ"), "\(codes)")
    }

    @Test func aDeletedEventIsNamed() async throws {
        let path = try await copy()
        let (sequence, manifest) = try segments(path)[0]
        try rewrite(path, sequence: sequence) { $0.remove(at: 7) }
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["event-deleted"])
        #expect(found.first?.eventIndex == manifest.firstIndex! + 7)
    }

    @Test func anInsertedEventIsNamed() async throws {
        let path = try await copy()
        let (sequence, _) = try segments(path)[2]
        try rewrite(path, sequence: sequence) { $0.insert(TestSupport.syntheticItem(auditID: "forged"), at: 3) }
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["event-inserted"])
        #expect(found.first?.line == 4)
        #expect(found.first?.auditID == "forged")
    }

    @Test func reorderedEventsAreNamed() async throws {
        let path = try await copy()
        let (sequence, _) = try segments(path)[1]
        try rewrite(path, sequence: sequence) { $0.swapAt(2, 3) }
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["event-reordered"])
        #expect([3, 4].contains(found.first?.line ?? 0))
    }

    @Test func aDuplicatedEventIsNamed() async throws {
        let path = try await copy()
        let (sequence, manifest) = try segments(path)[1]
        try rewrite(path, sequence: sequence) { $0.insert($0[2], at: 3) }
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["event-duplicated"])
        #expect(found.first?.line == 4)
        #expect(found.first?.eventIndex == manifest.firstIndex! + 2)
    }

    @Test func aDeletedSegmentFileIsNamed() async throws {
        let path = try await copy()
        let (sequence, manifest) = try segments(path)[1]
        try FileManager.default.removeItem(atPath: StoreLayout(root: path).segmentPath(sequence))
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["segment-missing"])
        #expect(found.first?.eventIndex == manifest.firstIndex)
    }

    @Test func aDeletedSegmentWithItsManifestIsFound() async throws {
        let path = try await copy()
        let (sequence, manifest) = try segments(path)[1]
        for file in try FileIO.list(path + "/segments") where file.hasPrefix(Manifest.stem(sequence)) {
            try FileManager.default.removeItem(atPath: path + "/segments/" + file)
        }
        let found = errors(try await verify(path))
        #expect(Set(found.map(\.code)) == ["manifest-missing", "events-missing"])
        #expect(found.first { $0.code == "events-missing" }?.eventIndex == manifest.firstIndex)
    }

    @Test func aReplacedSegmentFileIsFound() async throws {
        let path = try await copy()
        let (sequence, _) = try segments(path)[0]
        let file = StoreLayout(root: path).segmentPath(sequence)
        // Same events, other compression: the file is not the sealed one.
        let data = try GzipDecompressor.gunzip(try FileIO.readAll(path: file))
        try FileIO.writeAtomically(path: file, bytes: try GzipCompressor.gzip(data, level: 9))
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["segment-modified"])
    }

    @Test func aFlippedByteInTheCompressedFileIsFound() async throws {
        let path = try await copy()
        let (sequence, _) = try segments(path)[0]
        let file = StoreLayout(root: path).segmentPath(sequence)
        var bytes = try FileIO.readAll(path: file)
        bytes[bytes.count / 2] ^= 0x01
        try FileIO.writeAtomically(path: file, bytes: bytes)
        let found = errors(try await verify(path))
        #expect(!found.isEmpty)
        #expect(found.allSatisfy { $0.file == "segments/" + Manifest.stem(sequence) + ".jsonl.gz" })
    }

    @Test func aForgedManifestFailsItsSignature() async throws {
        let path = try await copy()
        let (sequence, _) = try segments(path)[1]
        let file = StoreLayout(root: path).manifestPath(sequence)
        let text = String(decoding: try FileIO.readAll(path: file), as: UTF8.self).replacingOccurrences(of: "\"node\":\"cp-1\"", with: "\"node\":\"cp-2\"")
        try FileIO.writeAtomically(path: file, bytes: Array(text.utf8))
        let found = errors(try await verify(path))
        #expect(found.contains { $0.code == "bad-signature" && $0.sequence == sequence })
        #expect(found.contains { $0.code == "manifest-chain-broken" && $0.sequence == sequence + 1 })
    }

    @Test func aManifestSignedByAnUnknownKeyIsFound() async throws {
        let path = try await copy()
        let layout = StoreLayout(root: path)
        let (sequence, manifest) = try segments(path)[2]
        var forged = manifest
        forged.keyID = try await BaseStore.shared.get().otherKey.publicKey.keyID
        let bytes = try StableJSON.encode(forged) + [0x0a]
        try FileIO.writeAtomically(path: layout.manifestPath(sequence), bytes: bytes)
        try FileIO.writeAtomically(path: layout.signaturePath(sequence), bytes: Array((Base64.encode(try try await BaseStore.shared.get().otherKey.signature(for: bytes)) + "\n").utf8))
        let found = errors(try await verify(path))
        #expect(found.contains { $0.code == "unknown-key" && $0.sequence == sequence })
    }

    @Test func aCutTailIsFoundByTheHeartbeatAndByTheClock() async throws {
        let path = try await copy()
        let layout = StoreLayout(root: path)
        // Remove the open write-ahead segment: the heartbeat committed to its events.
        for wal in try layout.walPaths() { try FileManager.default.removeItem(atPath: wal) }
        let found = errors(try await verify(path))
        #expect(found.map(\.code) == ["events-missing"])
        // Remove the heartbeat too: now only the clock can tell, once two heartbeat intervals pass.
        let last = try layout.manifestSequences().last!
        for file in try FileIO.list(path + "/segments") where file.hasPrefix(Manifest.stem(last)) {
            try FileManager.default.removeItem(atPath: path + "/segments/" + file)
        }
        let stillIntact = try await verify(path)
        #expect(stillIntact.intact)
        let later = try await verify(path, now: Date().addingTimeInterval(3600))
        #expect(errors(later).map(\.code) == ["tail-gap"])
    }

    @Test func aChangedOpenWriteAheadRecordIsFound() async throws {
        let path = try await copy()
        let wal = try StoreLayout(root: path).walPaths()[0]
        var bytes = try FileIO.readAll(path: wal)
        bytes[bytes.count - 30] ^= 0x20
        try FileIO.writeAtomically(path: wal, bytes: bytes)
        let codes = Set(errors(try await verify(path)).map(\.code))
        #expect(codes.contains("wal-damaged"))
        #expect(codes.contains("events-missing"))  // the heartbeat no longer matches what remains
    }

    @Test func incrementalVerificationReadsOnlyNewSegmentsButStillChecksEveryManifest() async throws {
        let path = try await copy()
        let all = try segments(path)
        try rewrite(path, sequence: all[0].sequence) { $0.removeLast() }
        try rewrite(path, sequence: all[2].sequence) { $0.removeFirst() }
        var options = Verifier.Options(trustedKeys: [try await BaseStore.shared.get().key.publicKey])
        options.segmentsFrom = all[1].sequence
        let report = Verifier(source: DirectorySource(root: path), options: options).run()
        // The first segment was read by an earlier run; the third is new and its change is found.
        #expect(errors(report).map(\.sequence) == [all[2].sequence])
        #expect(errors(report).map(\.code) == ["event-deleted"])
    }

    @Test func verifyExitsZeroOneAndTwo() async throws {
        let binary = TestSupport.product("auditseal")
        let pub = try await BaseStore.shared.get().dir + "/signing.key.pub"
        let intactCopy = try await copy()
        #expect(try TestSupport.run(binary, ["verify", intactCopy, "--public-key", pub]).status == 0)
        let path = try await copy()
        let (sequence, _) = try segments(path)[0]
        try rewrite(path, sequence: sequence) { $0.removeLast() }
        let tampered = try TestSupport.run(binary, ["verify", path, "--public-key", pub, "--json"])
        #expect(tampered.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(tampered.stdout.utf8)) as? [String: Any]
        #expect(json?["intact"] as? Bool == false)
        #expect(try TestSupport.run(binary, ["verify"]).status == 2)
        #expect(try TestSupport.run(binary, ["verify", path + "-nonexistent"]).status == 2)
        let untrusted = try TestSupport.run(binary, ["verify", intactCopy])
        #expect(untrusted.status == 0)
        #expect(untrusted.stdout.contains("internal consistency only"))
    }
}
