import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// A really full disk: the data directory on a size-limited tmpfs (root only; skipped loudly
/// otherwise), filled while the receiver takes batches. The batch that does not fit gets 503 +
/// Retry-After, /readyz says why, nothing partial is stored, and ingest resumes by itself once
/// space returns; every acknowledged event survives and verify is green.
@Suite(.serialized, .tier(.process)) struct FullDiskTests {
    static let canMount: Bool = {
        guard getuid() == 0 else { return false }
        let probe = TestSupport.temporaryDirectory("tmpfs-probe")
        defer { _ = try? TestSupport.run("/bin/umount", [probe]) }
        return (try? TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]).status) == 0
    }()

    static func freeBytes(_ path: String) -> Int64 {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return -1 }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    /// Fill-and-free cycles: CI runs 4, `AUDITSEAL_FULLDISK_CYCLES=N` runs N.
    static let cycles = Int(ProcessInfo.processInfo.environment["AUDITSEAL_FULLDISK_CYCLES"] ?? "") ?? 4

    /// Each cycle fills the file system to a different margin (from less than one small batch to
    /// a few segments), then sends small batches (held in memory) and large ones (spooled to disk
    /// first) until one is refused, while segments seal every 200 KB, so that the disk runs out
    /// in the write-ahead append, in spooling or in sealing; then frees the space and expects
    /// ingest to resume without a restart.
    @Test(.enabled(if: canMount, "needs root to mount a size-limited tmpfs (mount -t tmpfs -o size=...)"))
    func aFullFileSystemGets503ThenIngestResumesWhenSpaceReturns() throws {
        let dir = ReceiverEndToEndTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        #expect(try TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", dir + "/data"]).status == 0)
        defer { _ = try? TestSupport.run("/bin/umount", ["-l", dir + "/data"]) }
        let json = ["-H", "Content-Type: application/json"]
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--segment-max-bytes", "200000", "--min-free-bytes", "1000000",
                                                                             "--ops-listen", "127.0.0.1:0", "--no-redaction", "--spool-threshold-bytes", "65536",
                                                                             "--max-inflight-bytes", "4194304"])
        var acknowledged = 0
        var reasons = [String: Int]()
        var batchNumber = 0
        func post(_ label: String, large: Bool) throws -> (Int, String) {
            batchNumber += 1
            let count = large ? 200 : 40
            let answer = try ReceiverEndToEndTests.post(daemon.url, body: ReceiverEndToEndTests.eventList(prefix: "\(label)-\(batchNumber)", count: count, padding: 600),
                                                        dir: NSTemporaryDirectory(), curlOptions: json + ["-D", dir + "/headers"])
            if answer.0 == 200 { acknowledged += count }
            return answer
        }
        #expect(try post("before", large: false).0 == 200)
        let filler = dir + "/data/filler"
        let margins: [Int64] = [16_000, 60_000, 180_000, 420_000, 900_000]
        var refusals = 0
        for cycle in 0..<Self.cycles {
            // Fill the file system, leaving this cycle's margin free.
            let size = max(0, Self.freeBytes(dir + "/data") - margins[cycle % margins.count])
            #expect(try TestSupport.run("/usr/bin/fallocate", ["-l", String(size), filler]).status == 0)
            var refused: (Int, String)?
            for b in 0..<400 {
                let answer = try post("c\(cycle)", large: (b + cycle) % 2 == 1)
                if answer.0 != 200 { refused = answer; break }
            }
            #expect(refused?.0 == 503, "cycle \(cycle): \(String(describing: refused))")
            if let refused, refused.0 == 503 {
                refusals += 1
                let reason = refused.1.contains("cannot spool") ? "spooling" : refused.1.contains("storage unavailable") ? "append" : "other: \(refused.1)"
                reasons[reason, default: 0] += 1
            }
            #expect((try? String(contentsOfFile: dir + "/headers", encoding: .utf8))?.lowercased().contains("retry-after:") == true)
            let ready = try TestSupport.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", daemon.opsURL + "/readyz"])
            #expect(ready.stdout.hasSuffix("\n503") && ready.stdout.contains("not ready"), "\(ready.stdout)")
            #expect(ready.stdout.contains("bytes free") || ready.stdout.contains("not writable") || ready.stdout.contains("space"), "\(ready.stdout)")

            // Space returns: ingest resumes without a restart.
            unlink(filler)
            var resumed = false
            for attempt in 0..<40 where !resumed {
                resumed = try post("after-\(cycle)-\(attempt)", large: attempt % 2 == 0).0 == 200
            }
            #expect(resumed, "cycle \(cycle): ingest did not resume")
        }
        #expect(try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/readyz"]).stdout == "ready\n")
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        let sealFailures = metrics.split(separator: "\n").first { $0.hasPrefix("auditseal_seal_failures ") }.map(String.init) ?? "?"
        print("full disk: \(Self.cycles) cycles, \(refusals) refused with 503 (\(reasons)), \(sealFailures), \(acknowledged) events acknowledged")
        #expect(reasons.keys.allSatisfy { !$0.hasPrefix("other") }, "\(reasons)")
        try ReceiverEndToEndTests.stopAndVerify(daemon, dir, events: acknowledged)
        // Exactly once: every acknowledged batch's events, none twice.
        let ids = try TestSupport.auditIDs(try TestSupport.storedLines(dir + "/data"))
        #expect(ids.count == acknowledged && Set(ids).count == ids.count)
    }
}
