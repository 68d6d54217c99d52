import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// A really full disk: the data directory on a size-limited tmpfs (root only; skipped loudly
/// otherwise), filled while the receiver takes batches. The batch that does not fit gets 503 +
/// Retry-After, /readyz says why, nothing partial is stored, and ingest resumes by itself once
/// space returns; every acknowledged event survives and verify is green.
@Suite(.serialized) struct FullDiskTests {
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

    @Test(.enabled(if: canMount, "needs root to mount a size-limited tmpfs (mount -t tmpfs -o size=...)"))
    func aFullFileSystemGets503ThenIngestResumesWhenSpaceReturns() throws {
        let dir = ReceiverEndToEndTests.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        #expect(try TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", dir + "/data"]).status == 0)
        defer { _ = try? TestSupport.run("/bin/umount", ["-l", dir + "/data"]) }
        let json = ["-H", "Content-Type: application/json"]
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--segment-max-bytes", "8000000", "--min-free-bytes", "1000000",
                                                                             "--ops-listen", "127.0.0.1:0", "--spool-threshold-bytes", "65536",
                                                                             "--max-inflight-bytes", "4194304"])
        var acknowledged = 0
        func post(_ label: String) throws -> (Int, String) {
            let answer = try ReceiverEndToEndTests.post(daemon.url, body: ReceiverEndToEndTests.eventList(prefix: label, count: 40, padding: 600), dir: NSTemporaryDirectory(),
                                                        curlOptions: json + ["-D", dir + "/headers"])
            if answer.0 == 200 { acknowledged += 40 }
            return answer
        }
        #expect(try post("before").0 == 200)
        // Fill the file system, leaving less than one batch (about 30 KB) free.
        let filler = dir + "/data/filler"
        let size = max(0, Self.freeBytes(dir + "/data") - 16_000)
        #expect(try TestSupport.run("/usr/bin/fallocate", ["-l", String(size), filler]).status == 0)
        var refused: (Int, String)?
        for b in 0..<20 {
            let answer = try post("full-\(b)")
            if answer.0 != 200 { refused = answer; break }
        }
        #expect(refused?.0 == 503, "\(String(describing: refused))")
        #expect((try? String(contentsOfFile: dir + "/headers", encoding: .utf8))?.lowercased().contains("retry-after:") == true)
        let ready = try TestSupport.run("/usr/bin/curl", ["-s", "-w", "\n%{http_code}", daemon.opsURL + "/readyz"])
        #expect(ready.stdout.hasSuffix("\n503") && ready.stdout.contains("not ready"), "\(ready.stdout)")
        #expect(ready.stdout.contains("bytes free") || ready.stdout.contains("not writable") || ready.stdout.contains("space"), "\(ready.stdout)")

        // Space returns: ingest resumes without a restart.
        unlink(filler)
        var resumed = false
        for attempt in 0..<20 where !resumed {
            resumed = try post("after-\(attempt)").0 == 200
        }
        #expect(resumed)
        #expect(try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/readyz"]).stdout == "ready\n")
        try ReceiverEndToEndTests.stopAndVerify(daemon, dir, events: acknowledged)
    }
}
