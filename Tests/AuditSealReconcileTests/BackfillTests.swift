import AuditSealCore
import AuditSealReconcile
import AuditSealRedaction
import AuditSealTestSupport
import Foundation
import Logging
import Testing

/// Reconciliation against the library: a store that lacks some events of a log file gets exactly
/// those, marked as backfilled in the signed manifests; copies that differ are reported, never
/// changed; a second pass reads nothing again.
@Suite struct BackfillTests {
    /// n synthetic events, as stored lines (the log backend's form).
    static func events(_ n: Int, prefix: String) throws -> EventBatch {
        try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: n, prefix: prefix))
    }

    static func logText(_ batch: EventBatch) -> [UInt8] {
        var out = [UInt8]()
        for i in 0..<batch.count { out += batch.line(i); out.append(0x0a) }
        return out
    }

    /// A temporary directory, its signing key, and a store in dir/data.
    static func newStore(_ label: String = #function) throws -> (dir: String, key: Ed25519PrivateKey, data: String, store: AuditStore) {
        let dir = TestSupport.temporaryDirectory(label)
        let (key, _) = try TestSupport.signingKey(in: dir)
        let data = dir + "/data"
        return (dir, key, data, try AuditStore(configuration: StoreConfiguration(dataDirectory: data, nodeName: "n1"), signingKey: key))
    }

    static func backfiller(_ dir: String, store: AuditStore, logs: [String], settle: Double = 0, horizon: Double = 3650 * 86400) throws -> Backfiller {
        Backfiller(settings: .init(logPaths: logs, settleSeconds: settle, horizonSeconds: horizon),
                   database: try ReconcileDatabase(dataDirectory: dir), dataDirectory: dir, logger: Logger(label: "test"),
                   append: { try await store.append($0) })
    }

    @Test func backfillsExactlyWhatTheWebhookLacked() async throws {
        let (dir, key, data, store) = try Self.newStore()
        let all = try Self.events(3000, prefix: "bf")
        let dropped = (0..<all.count).filter { $0 % 7 == 3 || (1200..<1500).contains($0) }
        let delivered = (0..<all.count).filter { !dropped.contains($0) }
        _ = try await store.append(all.selecting(Array(delivered.prefix(1000))))
        try await store.sealNow()  // some of it sealed, the rest in the write-ahead log
        _ = try await store.append(all.selecting(Array(delivered.dropFirst(1000))))
        let log = dir + "/audit.log"
        try FileIO.writeAtomically(path: log, bytes: Self.logText(all))

        let backfiller = try Self.backfiller(data, store: store, logs: [log])
        let first = try await backfiller.pass()
        #expect(first.read == all.count && first.matched == delivered.count && first.backfilled == dropped.count && first.mismatched == 0, "\(first)")
        let second = try await backfiller.pass()
        #expect(second.read == 0 && second.backfilled == 0, "\(second)")
        try await store.close()

        // Every event once; the backfilled ranges name exactly the dropped ones.
        let lines = try TestSupport.storedLines(data)
        let ids = try TestSupport.auditIDs(lines)
        #expect(ids.count == all.count && Set(ids) == Set((0..<all.count).map { "bf-\($0)" }))
        let layout = StoreLayout(root: data)
        var marked = [UInt64]()
        for sequence in try layout.manifestSequences() {
            let m = try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: layout.manifestPath(sequence)))
            for r in BackfilledRanges(pairs: m.backfilled).ranges { marked += Array(r) }
        }
        #expect(Set(marked.map { ids[Int($0)] }) == Set(dropped.map { "bf-\($0)" }))
        let report = Verifier(source: DirectorySource(root: data), options: .init(trustedKeys: [key.publicKey])).run()
        #expect(report.intact, "\(report.findings)")
        #expect(report.backfilledEvents == UInt64(dropped.count))
        #expect(report.completeness?.backfilledEvents == UInt64(dropped.count))
        #expect(report.completeness?.matchedEvents == UInt64(delivered.count))
    }

    @Test func theIndexFollowsTheOpenSegmentAsItGrows() async throws {
        let (dir, _, data, store) = try Self.newStore()
        let log = dir + "/audit.log"
        let first = try Self.events(50, prefix: "grow")
        _ = try await store.append(first)
        try FileIO.writeAtomically(path: log, bytes: Self.logText(first))
        let backfiller = try Self.backfiller(data, store: store, logs: [log])
        let one = try await backfiller.pass()
        #expect(one.matched == 50 && one.backfilled == 0, "\(one)")
        // More arrive by webhook into the same open segment, and in the log: the index reads on
        // from where it stopped in that segment, and finds them.
        var more = [UInt8]()
        for round in 0..<3 {
            let batch = try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 60, prefix: "grow\(round)x"))
            _ = try await store.append(batch)
            more += Self.logText(batch)
            try FileIO.writeAtomically(path: log, bytes: Self.logText(first) + more)
            let r = try await backfiller.pass()
            #expect(r.read == 60 && r.matched == 60 && r.backfilled == 0, "round \(round): \(r)")
        }
        try await store.close()
        #expect(try backfiller.database.report().indexedThrough == 230)
    }

    /// Issue 33: a stored copy that redaction changed carries markers with fresh salts, so its leaf
    /// never matches the log line's. Without the rule every such event was a false difference.
    @Test(arguments: [false, true])
    func aRedactedCopyIsMatchedNotReportedAsDiffering(_ aware: Bool) async throws {
        let (dir, _, data, store) = try Self.newStore("redacted-copy-\(aware)")
        var text = [UInt8]()
        for line in try LeakCorpus.lines() { text += line + [0x0a] }
        let original = try EventScanner(mode: .stream).scan(text)
        let stage = try RedactionStage(configuration: RedactionConfiguration(), dataDirectory: data)
        _ = try await store.append(try await stage.prepare(original))
        let log = dir + "/audit.log"
        try FileIO.writeAtomically(path: log, bytes: text)

        let backfiller = try Self.backfiller(data, store: store, logs: [log])
        if aware { backfiller.redactionChanges = { stage.changes($0) } }
        let result = try await backfiller.pass()
        try await store.close()
        // Without the rule, every redacted event (all but the ordinary one) was a false difference.
        let expected = aware ? 0 : original.count - 1
        #expect(result.mismatched == expected && result.matched == original.count - expected && result.backfilled == 0, "\(result)")
    }

    @Test func aDifferingCopyIsReportedAndTheChainKept() async throws {
        let (dir, _, data, store) = try Self.newStore()
        let all = try Self.events(50, prefix: "mm")
        _ = try await store.append(all)
        var text = String(decoding: Self.logText(all), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Line 8 (auditID mm-7) says someone else did it.
        text[7] = text[7].replacingOccurrences(of: "alice@example.com", with: "mallory@example.com")
        let log = dir + "/audit.log"
        try FileIO.writeAtomically(path: log, bytes: Array(text.joined(separator: "\n").utf8))
        let before = try TestSupport.storedLines(data)

        let backfiller = try Self.backfiller(data, store: store, logs: [log])
        let result = try await backfiller.pass()
        try await store.close()
        #expect(result.mismatched == 1 && result.matched == 49 && result.backfilled == 0, "\(result)")
        let report = try backfiller.database.report()
        #expect(report.mismatches.count == 1)
        #expect(report.mismatches.first?.auditID == "mm-7" && report.mismatches.first?.eventIndex == 7 && report.mismatches.first?.line == 8)
        #expect(try TestSupport.storedLines(data) == before)
    }

    @Test func rotatedCompressedAndVanishedFiles() async throws {
        let dir = TestSupport.temporaryDirectory()
        let (key, _) = try TestSupport.signingKey(in: dir)
        let data = dir + "/data"
        let logs = dir + "/logs"
        try FileIO.makeDirectories(logs)
        let store = try AuditStore(configuration: StoreConfiguration(dataDirectory: data, nodeName: "n1"), signingKey: key)
        let all = try Self.events(900, prefix: "rot")
        // Rotated and compressed, rotated, live (with a torn last line still being written).
        try FileIO.writeAtomically(path: logs + "/audit-2026-11-25T10-00-00.000.log.gz", bytes: try GzipCompressor.gzip(Self.logText(all.slice(0..<300))))
        try FileIO.writeAtomically(path: logs + "/audit-2026-11-25T10-30-00.000.log", bytes: Self.logText(all.slice(300..<600)))
        let live = Self.logText(all.slice(600..<900))
        try FileIO.writeAtomically(path: logs + "/audit.log", bytes: live + Array(#"{"kind":"Event","apiVer"#.utf8))
        let backfiller = try Self.backfiller(data, store: store, logs: [logs + "/audit.log"])
        let first = try await backfiller.pass()
        #expect(first.backfilled == 900 && first.unreadable == 0, "\(first)")

        // The live file is rotated (renamed, then compressed) and a new one begins: nothing is read twice.
        try FileIO.writeAtomically(path: logs + "/audit-2026-11-25T11-00-00.000.log.gz", bytes: try GzipCompressor.gzip(live))
        let more = try Self.events(100, prefix: "rot2")
        try FileIO.writeAtomically(path: logs + "/audit.log", bytes: Self.logText(more))
        // One unread rotated file disappears (--audit-log-maxbackup) before it was read: a gap.
        let gone = try Self.events(10, prefix: "gone")
        try FileIO.writeAtomically(path: logs + "/audit-2026-11-25T11-30-00.000.log", bytes: Self.logText(gone).dropLast(1) + [])
        _ = unlink(logs + "/audit-2026-11-25T10-30-00.000.log")
        let second = try await backfiller.pass()
        #expect(second.backfilled == 100 + 9 && second.matched == 0, "\(second)")  // the last line of the 11-30 file is still open
        _ = unlink(logs + "/audit-2026-11-25T11-30-00.000.log")
        let third = try await backfiller.pass()
        #expect(third.read == 0, "\(third)")
        try await store.close()
        let report = try backfiller.database.report()
        #expect(report.gaps.contains { $0.source == "log" && $0.reason.contains("11-30-00.000.log") && $0.reason.contains("line 9") }, "\(report.gaps)")
        let ids = try TestSupport.auditIDs(try TestSupport.storedLines(data))
        #expect(ids.count == Set(ids).count && ids.count == 1009)
    }

    @Test func beyondTheHorizonNothingIsBackfilled() async throws {
        let (dir, _, data, store) = try Self.newStore()
        let all = try Self.events(20, prefix: "old")
        let log = dir + "/audit.log"
        try FileIO.writeAtomically(path: log, bytes: Self.logText(all))
        // The synthetic events are of 2026-11-25; a one-hour horizon a week later excludes them.
        let backfiller = try Self.backfiller(data, store: store, logs: [log], horizon: 3600)
        let result = try await backfiller.pass(now: Timestamp.parse("2026-12-02T10:00:00Z")!)
        try await store.close()
        #expect(result.beyondHorizon == 20 && result.backfilled == 0, "\(result)")
    }

    @Test func settlingEventsWait() async throws {
        let (dir, _, data, store) = try Self.newStore()
        let all = try Self.events(10, prefix: "young")
        let log = dir + "/audit.log"
        try FileIO.writeAtomically(path: log, bytes: Self.logText(all))
        let backfiller = try Self.backfiller(data, store: store, logs: [log], settle: 300, horizon: 86400 * 30)
        // Two minutes after the events: the webhook may still deliver them.
        let early = try await backfiller.pass(now: Timestamp.parse("2026-11-25T10:02:00Z")!)
        #expect(early.read == 0 && early.backfilled == 0, "\(early)")
        let later = try await backfiller.pass(now: Timestamp.parse("2026-11-25T10:06:00Z")!)
        try await store.close()
        #expect(later.read == 10 && later.backfilled == 10, "\(later)")
    }
}
