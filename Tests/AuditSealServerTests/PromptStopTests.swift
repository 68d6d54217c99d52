import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// A stop never waits out a service's interval nor a silent peer (issue 30 item 2, issue 31 item 2):
/// with reconciliation passes and scrapes a day apart, an API server's /metrics and the S3 bucket
/// both accepting connections and never answering, SIGTERM still finishes the batches, seals and
/// exits 0. The bound below is a hang detector, far above what the stop takes (the final shipping
/// round's own limit, 10 s), not a speed assertion.
@Suite(.tier(.process)) struct PromptStopTests {
    typealias Daemon = ReceiverEndToEndTests.Daemon

    /// A loopback TCP port whose connections complete (the kernel's backlog) and are never answered.
    final class Blackhole {
        let fd: Int32
        let port: Int
        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
            port = Int(UInt16(bigEndian: address.sin_port))
        }
        deinit { close(fd) }
    }

    /// SIGTERM, then the exit status, or nil when the process still runs after `seconds` (then killed).
    static func stop(_ daemon: Daemon, within seconds: Double) -> Int32? {
        let exited = DispatchSemaphore(value: 0)
        daemon.process.terminationHandler = { _ in exited.signal() }
        daemon.process.terminate()
        if exited.wait(timeout: .now() + seconds) == .timedOut {
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
            return nil
        }
        return daemon.process.terminationStatus
    }

    @Test func sigtermWithReconcileAndASilentBucketFinishesAndSeals() throws {
        let dir = TestSupport.temporaryDirectory("prompt-stop")
        let hole = try Blackhole()
        try FileIO.makeDirectories(dir + "/logs")
        try FileIO.writeAtomically(path: dir + "/logs/audit.log", bytes: TestSupport.apiServerLogLines(count: 50, prefix: "log"))
        try FileIO.writeAtomically(path: dir + "/token", bytes: Array("t".utf8))
        try FileIO.writeAtomically(path: dir + "/serve.yaml", bytes: Array("""
            reconcile:
              auditLogPaths: [\(dir)/logs/audit.log]
              intervalSeconds: 86400
              settleSeconds: 0
              apiServers:
                - {name: silent, url: "http://127.0.0.1:\(hole.port)", tokenFile: \(dir)/token}
              scrapeIntervalSeconds: 86400
            s3Endpoint: http://127.0.0.1:\(hole.port)
            s3Bucket: silent
            """.utf8))
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = "AKIDSILENT"
        environment["AWS_SECRET_ACCESS_KEY"] = "silent"
        let daemon = try Daemon(dir: dir, arguments: ["--config", dir + "/serve.yaml"], environment: environment)
        #expect(daemon.waitFor("auditseal: reconcile-pass "))
        let (status, _) = try ReceiverEndToEndTests.post(daemon.url, body: String(decoding: TestSupport.eventList(count: 10, prefix: "hook"), as: UTF8.self), dir: dir,
                                                         curlOptions: ["-H", "Content-Type: application/json"])
        #expect(status == 200)
        let exit = Self.stop(daemon, within: 45)
        let log = String(decoding: try FileIO.readAll(path: daemon.stderrPath), as: UTF8.self)
        #expect(exit == 0, "the stop hung or failed: \(log.suffix(3000))")
        // Said when the stop began, not only at its end; the bucket's silence is named.
        #expect(log.contains("stopping: no new connections"), "\(log.suffix(2000))")
        #expect(log.contains("final shipping round did not finish"), "\(log.suffix(2000))")
        let verified = try TestSupport.run(TestSupport.product("auditseal"), ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(try TestSupport.storedLines(dir + "/data").count == 60)
    }
}
