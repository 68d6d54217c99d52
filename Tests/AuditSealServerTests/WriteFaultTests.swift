import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// I/O errors on the real receiver (issue 14, item 2): an LD_PRELOAD interposer
/// (Tests/FaultInjection/faults.c) fails chosen write, writev, fsync, fdatasync and rename calls
/// with EIO or ENOSPC. The batch in flight gets 503 with Retry-After and is never acknowledged; a
/// write-ahead file whose write or fsync failed is never synced again (after a failed fsync the
/// kernel may have dropped its dirty pages, and a second fsync would report success): the store
/// continues in a new file. The sender retries; in the end every batch is stored exactly once and
/// verify is green. AUDITSEAL_FAULTS_LONG=1 moves each fault through the first 40 calls.
@Suite(.serialized, .tier(.process)) struct WriteFaultTests {
    /// The interposer: the package's dynamic library, else compiled here from its source.
    static let library: String? = {
        let built = TestSupport.product("libAuditSealFaultInjection.so")
        if FileManager.default.fileExists(atPath: built) { return built }
        let out = TestSupport.temporaryDirectory("faults") + "/libfaults.so"
        for cc in ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang", "/opt/swift/usr/bin/clang"] where FileManager.default.isExecutableFile(atPath: cc) {
            if (try? TestSupport.run(cc, ["-shared", "-fPIC", "-O1", "-o", out, TestSupport.packageRoot + "/Tests/FaultInjection/faults.c", "-ldl", "-lpthread"]))?.status == 0 {
                return out
            }
        }
        FileHandle.standardError.write(Data("\n*** SKIPPING the I/O-error tests: no libAuditSealFaultInjection.so and no C compiler to build it ***\n\n".utf8))
        return nil
    }()

    /// This process's environment with the interposer preloaded, failing `faults`, logging to `log`.
    static func environment(faults: String, log: String? = nil) throws -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = try #require(library)
        environment["AUDITSEAL_FAULTS"] = faults
        if let log { environment["AUDITSEAL_FAULT_LOG"] = log }
        return environment
    }

    struct Outcome {
        var unavailable = 0
        var retryAfterMissing = 0
        var startupRefused = false
        var faultLog: [String] = []
    }

    /// After the daemon has stopped: `auditseal verify` on its data directory must be green; returns
    /// the stored events' auditIDs, in store order, for the caller's exactly-once checks.
    static func verifiedAuditIDs(_ dir: String, label: String = "") throws -> [String] {
        let verified = try TestSupport.run(TestSupport.product("auditseal"), ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        #expect(verified.status == 0, "\(label): \(verified.stdout)")
        return try TestSupport.auditIDs(try TestSupport.storedLines(dir + "/data"))
    }

    /// Sends `batches` batches of 50 events through a receiver running with `faults`, each retried
    /// (as the API server does) until it is stored; then stops it and checks the store.
    static func drive(_ faults: String, batches: Int = 10, label: String) throws -> Outcome {
        let dir = TestSupport.temporaryDirectory("faults-" + label)
        let environment = try environment(faults: faults, log: dir + "/faults.log")
        // Small segments: every batch or two rotates and seals, so sealing's writes, fsyncs and
        // renames meet the faults too.
        var outcome = Outcome()
        let daemon: ReceiverEndToEndTests.Daemon
        do {
            daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--segment-max-bytes", "100000"], environment: environment)
        } catch {
            // The fault hit startup (creating the chain or the first segment): the receiver refuses
            // to start, loudly. Started again without the fault, it must recover whatever is there.
            outcome.startupRefused = true
            daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--segment-max-bytes", "100000"])
        }
        for b in 0..<batches {
            let body = String(decoding: TestSupport.eventList(count: 50, prefix: "f\(b)"), as: UTF8.self)
            var status = 0
            for _ in 0..<60 {
                let headers = dir + "/headers"
                let (code, answer) = try ReceiverEndToEndTests.post(daemon.url, body: body, dir: dir, curlOptions: ["-D", headers, "-H", "Content-Type: application/json"])
                status = code
                if code == 200 { break }
                #expect(code == 503, "batch \(b): \(code) \(answer)")
                outcome.unavailable += 1
                let head = (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
                if !head.lowercased().contains("retry-after:") { outcome.retryAfterMissing += 1 }
                if faults.contains("+") { break }  // a disk that stays broken: no point retrying
            }
            if status != 200 && faults.contains("+") { break }
            #expect(status == 200, "batch \(b) never stored under \(faults)")
        }
        #expect(daemon.stop() == 0, "\(faults): \(String(decoding: FileManager.default.contents(atPath: daemon.stderrPath) ?? Data(), as: UTF8.self).suffix(1500))")
        outcome.faultLog = ((try? String(contentsOfFile: dir + "/faults.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)

        // Whatever was acknowledged is there exactly once, and the store verifies.
        let ids = try Self.verifiedAuditIDs(dir, label: faults)
        #expect(ids.count == Set(ids).count, "\(faults): an event stored twice")
        let batchesStored = Set(ids.map { $0.prefix { $0 != "-" } })
        for b in batchesStored { #expect(ids.filter { $0.hasPrefix(b + "-") }.count == 50, "\(faults): batch \(b) partly stored") }
        if !faults.contains("+") { #expect(ids.count == 50 * batches, "\(faults): \(ids.count) events stored") }
        // No file whose write or fsync failed is synced again (files are told apart by inode).
        var failed = Set<String>()
        for line in outcome.faultLog {
            let parts = line.split(separator: " ")
            guard parts.count == 4, parts[1].contains("/wal/") else { continue }
            let file = String(parts[2])
            // A new segment's temporary file is synced once per creation attempt and unlinked when
            // that fails, so an inode seen again under a temporary name is a new file (inodes are
            // reused). (Under ThreadSanitizer the interposer sees the syncs but not the writes,
            // whose interceptors bypass it, so the sync itself must tell.)
            if parts[1].hasSuffix(".wal.tmp") && failed.contains(file) {
                failed.remove(file)
            }
            if ["fsync", "fdatasync"].contains(String(parts[0])) { #expect(!failed.contains(file), "\(faults): \(parts[1]) was synced again after a failed write or sync") }
            if parts[3] != "ok" { failed.insert(file) }
        }
        return outcome
    }

    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func aFailedFdatasyncIs503AndTheStoreGoesOnInANewFile() throws {
        let o = try Self.drive("fdatasync:/wal/:3:EIO", label: "fdatasync")
        #expect(o.unavailable == 1 && o.retryAfterMissing == 0)
        #expect(o.faultLog.contains { $0.hasPrefix("fdatasync ") && $0.hasSuffix(" EIO") })
    }

    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func aFullDiskOnWritevIs503() throws {
        let o = try Self.drive("writev:/wal/:2:ENOSPC", label: "writev")
        #expect(o.unavailable == 1 && o.retryAfterMissing == 0)
    }

    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func sealingFailuresAreRetriedWithoutTouchingIngest() throws {
        // File data is fdatasync'd, directories fsync'd (the segments directory after each rename).
        for faults in ["rename:/segments/:2:EIO", "fsync:/data/segments:3:EIO", "write:/segments/:2:ENOSPC", "fdatasync:/segments/:2:EIO"] {
            let o = try Self.drive(faults, label: "seal")
            #expect(o.unavailable == 0, "\(faults)")
            #expect(o.faultLog.contains { $0.hasSuffix(" EIO") || $0.hasSuffix(" ENOSPC") }, "\(faults): the fault never fired")
        }
    }

    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func aNewWriteAheadFileThatCannotBeCreatedKeeps503UntilItCan() throws {
        // An append's fdatasync fails, and so does creating the next segment (its header's fdatasync), once.
        let o = try Self.drive("fdatasync:/wal/0:3:EIO,fdatasync:.wal.tmp:2:EIO", label: "create")
        #expect(o.unavailable >= 1 && o.retryAfterMissing == 0)
    }

    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func aDyingDiskKeepsEveryAcknowledgedEvent() throws {
        // From the fourth fdatasync on, every one fails: batches are refused, what was acknowledged stays.
        let o = try Self.drive("fdatasync:/wal/:4+:EIO", label: "dying")
        #expect(o.unavailable >= 1)
    }

    /// A disk that takes no new file and no sealed segment while the open segment is past its age:
    /// the store tries again about once a second, not in a busy loop (it once retried creating the
    /// next file as fast as it could, at 100 % of a core), and SIGTERM still stops it (a closing
    /// seal queued behind a failing one once waited for it forever). Started again on a good disk,
    /// the store holds every acknowledged event and verifies.
    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func aDiskThatTakesNoNewFileNeitherSpinsNorHangsTheStop() throws {
        let dir = TestSupport.temporaryDirectory("faults-nonewfile")
        // After the first write-ahead file, no new one can be made (its header's fdatasync fails),
        // and no segment can be sealed (every rename into segments/ fails).
        let environment = try Self.environment(faults: "fdatasync:.wal.tmp:2+:EIO,rename:/segments/:1+:EIO", log: dir + "/faults.log")
        let launched = Date()
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--segment-max-age-seconds", "0.2"], environment: environment)
        let body = String(decoding: TestSupport.eventList(count: 50, prefix: "n0"), as: UTF8.self)
        #expect(try ReceiverEndToEndTests.post(daemon.url, body: body, dir: dir, curlOptions: ["-H", "Content-Type: application/json"]).0 == 200)
        // The segment is old at once; wait until the store has tried and failed to replace it a few times.
        func failedCreations() -> Int {
            ((try? String(contentsOfFile: dir + "/faults.log", encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { $0.hasPrefix("fdatasync ") && $0.contains(".wal.tmp") && $0.hasSuffix(" EIO") }.count
        }
        let patience = Date().addingTimeInterval(120)
        while failedCreations() < 3 && Date() < patience { usleep(20_000) }
        #expect(failedCreations() >= 3, "the store never tried to replace its old segment")

        daemon.process.terminate()
        let stopDeadline = Date().addingTimeInterval(120)
        while daemon.process.isRunning && Date() < stopDeadline { usleep(20_000) }
        let stopped = !daemon.process.isRunning
        #expect(stopped, "SIGTERM did not stop the daemon within 120 s: \(String(decoding: FileManager.default.contents(atPath: daemon.stderrPath) ?? Data(), as: UTF8.self).suffix(1500))")
        if !stopped { kill(daemon.process.processIdentifier, SIGKILL) }
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationReason == .exit, "the daemon died of signal \(daemon.process.terminationStatus)")
        // At most about one attempt a second over the daemon's life (a busy loop makes thousands).
        let lifetime = Date().timeIntervalSince(launched)
        #expect(Double(failedCreations()) <= 2 * lifetime + 5, "\(failedCreations()) failed creations of a new write-ahead file in \(Int(lifetime)) s")

        // On a good disk again: the acknowledged batch is there once, and the store verifies.
        let second = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: [])
        #expect(second.stop() == 0)
        let ids = try Self.verifiedAuditIDs(dir)
        #expect(ids.count == 50 && Set(ids).count == 50, "\(ids.count) stored")
    }

    @Test(.enabled(if: library != nil, "needs the fault-injection library (a C compiler)"))
    func aCrashBeforeTheFailedFileIsSealedRecoversWithoutItsTail() throws {
        let dir = TestSupport.temporaryDirectory("faults-crash")
        // Batch 1's fdatasync fails and cutting its records off fails too, so they stay in the
        // file's tail; nothing can be sealed (renames in segments/ fail) when the process is killed.
        let environment = try Self.environment(faults: "fdatasync:/wal/:3:EIO,ftruncate:/wal/:1:EIO,rename:/segments/:1+:EIO")
        let first = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: [], environment: environment)
        let bodies = (0..<3).map { String(decoding: TestSupport.eventList(count: 50, prefix: "c\($0)"), as: UTF8.self) }
        let json = ["-H", "Content-Type: application/json"]
        #expect(try ReceiverEndToEndTests.post(first.url, body: bodies[0], dir: dir, curlOptions: json).0 == 200)
        #expect(try ReceiverEndToEndTests.post(first.url, body: bodies[1], dir: dir, curlOptions: json).0 == 503)
        #expect(try ReceiverEndToEndTests.post(first.url, body: bodies[1], dir: dir, curlOptions: json).0 == 200)
        #expect(try ReceiverEndToEndTests.post(first.url, body: bodies[2], dir: dir, curlOptions: json).0 == 200)
        let wal = try FileIO.list(dir + "/data/wal").filter { $0.hasSuffix(".wal") }.sorted()
        #expect(wal == ["00000000000000000000.wal", "00000000000000000050.wal"], "\(wal)")
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()

        // Restarted without faults: the first file's tail (batch 1's unacknowledged records, past
        // the start of the second file) is cut and kept as evidence; everything else is sealed.
        let second = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: [])
        #expect(second.stop() == 0)
        let log = String(decoding: FileManager.default.contents(atPath: second.stderrPath) ?? Data(), as: UTF8.self)
        #expect(log.contains("goes on past the start of the next write-ahead segment"), "\(log.suffix(2000))")
        let ids = try Self.verifiedAuditIDs(dir)
        #expect(ids.count == 150 && Set(ids).count == 150, "\(ids.count) stored")
    }

    @Test(.enabled(if: library != nil && ProcessInfo.processInfo.environment["AUDITSEAL_FAULTS_LONG"] != nil,
                   "long mode: AUDITSEAL_FAULTS_LONG=1"))
    func everyCallPosition() throws {
        var injected = 0, refusedStarts = 0, runs = 0
        for op in ["fdatasync:/wal/", "writev:/wal/", "fsync:/data/segments", "rename:/segments/", "write:/wal/", "fsync:/data/wal"] {
            for n in 1...40 {
                let o = try Self.drive("\(op):\(n):EIO", batches: 8, label: "long")
                injected += o.faultLog.filter { $0.hasSuffix(" EIO") }.count
                if o.startupRefused { refusedStarts += 1 }
                runs += 1
            }
        }
        print("I/O-error injections survived: \(injected) in \(runs) runs (\(refusedStarts) refused to start and recovered on the next start)")
    }
}
