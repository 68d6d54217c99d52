import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Completeness end to end (issue 13): the real `auditseal serve` and `auditseal reconcile`
/// processes, the kube-apiserver's own webhook sender losing events, log files rotated and
/// compressed, a kill -9 in the middle of a backfill, and an API server's drop counters.
@Suite(.serialized, .tier(.process)) struct ReconcileEndToEndTests {
    typealias Daemon = ReceiverEndToEndTests.Daemon
    static let binary = TestSupport.product("auditseal")

    /// Every stored (auditID) once, the manifests' backfilled ranges, and verify's verdict.
    static func storeFacts(_ data: String) throws -> (ids: [String], backfilled: Set<String>, verified: (Int32, String)) {
        let ids = try TestSupport.auditIDs(try TestSupport.storedLines(data))
        let layout = StoreLayout(root: data)
        var backfilled = Set<String>()
        for sequence in try layout.manifestSequences() {
            let m = try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: layout.manifestPath(sequence)))
            for r in BackfilledRanges(pairs: m.backfilled).ranges { for i in r { backfilled.insert(ids[Int(i)]) } }
        }
        let verified = try TestSupport.run(Self.binary, ["verify", data, "--public-key", data + "/signing.key.pub"])
        return (ids, backfilled, (verified.status, verified.stdout))
    }

    @Test(.enabled(if: APIServerSenderTests.auditsend != nil, "needs auditsend, the kube-apiserver's audit webhook sender: AUDITSEAL_AUDITSEND"))
    func whatTheRealSenderDroppedIsBackfilledFromTheLogFile() throws {
        let auditsend = try #require(APIServerSenderTests.auditsend)
        let dir = TestSupport.temporaryDirectory("reconcile-auditsend")
        // The sender's throttle (10 batches of 400 a second, a burst of 15) and buffer (10 000) drop
        // events when it is fed n events faster than 4 000 n / (n - 16 000) a second: 12 000/s for
        // 24 000 events, which a loaded machine (the suite under AddressSanitizer beside two fuzzers)
        // did not reach; about 5 500/s for 60 000.
        let n = 60_000
        // The API server's log file: the same events its webhook backend is given.
        try FileIO.makeDirectories(dir + "/logs")
        let log = dir + "/logs/audit.log"
        try FileIO.writeAtomically(path: log, bytes: TestSupport.apiServerLogLines(count: n, prefix: "drop"))
        let daemon = try Daemon(dir: dir, arguments: [])
        try FileIO.writeAtomically(path: dir + "/kubeconfig.yaml", bytes: Array("""
            apiVersion: v1
            kind: Config
            clusters: [{name: auditseal, cluster: {server: "\(daemon.url)/v1/audit"}}]
            contexts: [{name: auditseal, context: {cluster: auditseal, user: sender}}]
            current-context: auditseal
            users: [{name: sender, user: {}}]
            """.utf8))
        // Fed as fast as it reads: the sender's buffer of 10 000 overflows and drops, as a loaded API server's does.
        let sent = try TestSupport.run(auditsend, ["-kubeconfig", dir + "/kubeconfig.yaml", "-events", log,
                                                   "-batch-max-wait", "1s", "-initial-backoff", "1s"])
        let counts = sent.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(counts.count >= 4 && counts[0] == n, "auditsend: \(sent.stdout) \(sent.stderr.suffix(1000))")
        let (acked, droppedByWebhook, droppedAtBuffer) = (counts[1], counts[2], counts[3])
        #expect(droppedAtBuffer + droppedByWebhook > 0 && acked + droppedAtBuffer + droppedByWebhook == n, "\(sent.stdout)")
        #expect(daemon.stop() == 0)

        let reconciled = try TestSupport.run(Self.binary, ["reconcile", "--data-dir", dir + "/data", "--signing-key", dir + "/data/signing.key",
                                                      "--audit-log", log, "--json"])
        #expect(reconciled.status == 0, "\(reconciled.stderr.suffix(2000))")
        let report = try StableJSON.decode(CompletenessReport.self, from: Array(reconciled.stdout.utf8))
        #expect(report.backfilledEvents == UInt64(droppedAtBuffer + droppedByWebhook), "sender: \(sent.stdout) report: \(reconciled.stdout.prefix(600))")
        #expect(report.matchedEvents == UInt64(acked) && report.mismatchedEvents == 0)

        let facts = try Self.storeFacts(dir + "/data")
        #expect(facts.ids.count == n && Set(facts.ids).count == n)
        #expect(facts.backfilled.count == droppedAtBuffer + droppedByWebhook)
        #expect(facts.verified.0 == 0 && facts.verified.1.contains("backfilled \(droppedAtBuffer + droppedByWebhook)"), "\(facts.verified.1)")
        // Run again: nothing new, nothing twice.
        let again = try TestSupport.run(Self.binary, ["reconcile", "--data-dir", dir + "/data", "--signing-key", dir + "/data/signing.key", "--audit-log", log])
        #expect(again.status == 0 && again.stdout.contains("read 0 log events"), "\(again.stdout)")
    }

    @Test func serveBackfillsRotatedCompressedLogsThroughAKill9() throws {
        let dir = TestSupport.temporaryDirectory("reconcile-kill9")
        let logs = dir + "/logs"
        try FileIO.makeDirectories(logs)
        let per = 15_000
        // Rotated and compressed (--audit-log-compress), rotated, and the live file.
        try FileIO.writeAtomically(path: logs + "/audit-2026-11-25T09-00-00.000.log.gz",
                                   bytes: try GzipCompressor.gzip(TestSupport.apiServerLogLines(count: per, prefix: "k9", start: 0), level: 1))
        try FileIO.writeAtomically(path: logs + "/audit-2026-11-25T09-30-00.000.log", bytes: TestSupport.apiServerLogLines(count: per, prefix: "k9", start: per))
        try FileIO.writeAtomically(path: logs + "/audit.log", bytes: TestSupport.apiServerLogLines(count: per, prefix: "k9", start: 2 * per))
        // Some of them arrived by webhook before: imported into the chain first.
        try FileIO.makeDirectories(dir + "/data")
        let keygen = try TestSupport.run(Self.binary, ["keygen", "--out", dir + "/data/signing.key"])
        try #require(keygen.status == 0, "\(keygen.stderr)")
        let delivered = dir + "/delivered.jsonl"
        try FileIO.writeAtomically(path: delivered, bytes: TestSupport.apiServerLogLines(count: 2000, prefix: "k9", start: per - 1000))
        let imported = try TestSupport.run(Self.binary, ["import", "--data-dir", dir + "/data", "--signing-key", dir + "/data/signing.key", "--node", "n1", delivered])
        try #require(imported.status == 0, "\(imported.stderr)")

        try FileIO.writeAtomically(path: dir + "/serve.yaml", bytes: Array("""
            node: n1
            reconcile:
              auditLogPaths: [\(logs)/audit.log]
              intervalSeconds: 0.2
              settleSeconds: 0
              horizonHours: 87600
            """.utf8))
        let first = try Daemon(dir: dir, arguments: ["--config", dir + "/serve.yaml"])
        #expect(first.waitFor("auditseal: reconcile-chunk "))
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        let midway = try TestSupport.storedLines(dir + "/data").count
        #expect(midway < 3 * per, "the kill came after the whole backfill (\(midway) events stored)")

        let second = try Daemon(dir: dir, arguments: ["--config", dir + "/serve.yaml"])
        #expect(second.waitFor("auditseal: reconcile-pass read=0 "))
        #expect(second.stop() == 0)
        let facts = try Self.storeFacts(dir + "/data")
        #expect(facts.ids.count == 3 * per && Set(facts.ids).count == 3 * per, "\(facts.ids.count) stored, \(Set(facts.ids).count) distinct")
        #expect(facts.backfilled.count == 3 * per - 2000)
        #expect(Set((per - 1000)..<(per + 1000)).allSatisfy { !facts.backfilled.contains("k9-\($0)") })
        #expect(facts.verified.0 == 0, "\(facts.verified.1)")
        let report = try StableJSON.decode(CompletenessReport.self, from: try FileIO.readAll(path: dir + "/data/" + CompletenessReport.path))
        #expect(report.logFiles.count == 3 && report.logFiles.filter(\.complete).count == 2, "\(report.logFiles)")
        #expect(report.mismatchedEvents == 0 && report.unreadableLines == 0)
    }

    @Test func anAPIServersDropCountersBecomeMetricsWindowsAndGaps() throws {
        let dir = TestSupport.temporaryDirectory("reconcile-metrics")
        // A stand-in for the API server's /metrics: serves the file's current text, with bearer auth.
        let values = dir + "/metrics.txt"
        func serve(events: Int, buffered: Int, webhook: Int, started: Double) throws {
            try FileIO.writeAtomically(path: values, bytes: Array("""
                # HELP apiserver_audit_event_total [ALPHA] Counter of audit events generated and sent to the audit backend.
                # TYPE apiserver_audit_event_total counter
                apiserver_audit_event_total \(events)
                # HELP apiserver_audit_error_total [ALPHA] Counter of audit events that failed to be audited properly. Plugin identifies the plugin affected by the error.
                # TYPE apiserver_audit_error_total counter
                apiserver_audit_error_total{plugin="buffered"} \(buffered)
                apiserver_audit_error_total{plugin="webhook"} \(webhook)
                # TYPE process_start_time_seconds gauge
                process_start_time_seconds \(started)

                """.utf8))
        }
        try serve(events: 100, buffered: 0, webhook: 0, started: 1.7e9)
        let script = """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    if self.headers.get('Authorization') != 'Bearer s3cret' or self.path != '/metrics':
                        self.send_response(403); self.end_headers(); return
                    body = open(sys.argv[1], 'rb').read()
                    self.send_response(200); self.send_header('Content-Type', 'text/plain; version=0.0.4'); self.end_headers(); self.wfile.write(body)
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", script, values]
        let pythonOut = Pipe()
        python.standardOutput = pythonOut
        try python.run()
        defer { kill(python.processIdentifier, SIGKILL) }
        var portText = Data()
        while !String(decoding: portText, as: UTF8.self).contains("\n") {
            let chunk = pythonOut.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            portText.append(chunk)
        }
        let port = String(decoding: portText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try FileIO.writeAtomically(path: dir + "/token", bytes: Array("s3cret\n".utf8))
        try FileIO.writeAtomically(path: dir + "/serve.yaml", bytes: Array("""
            reconcile:
              scrapeIntervalSeconds: 0.1
              apiServers:
              - {name: apiserver-1, url: "http://127.0.0.1:\(port)", tokenFile: \(dir)/token}
              - {name: apiserver-2, url: "http://127.0.0.1:1/metrics", tokenFile: \(dir)/token}
            """.utf8))
        let daemon = try Daemon(dir: dir, arguments: ["--config", dir + "/serve.yaml"])
        var scrapes = 1
        #expect(daemon.waitFor("auditseal: source-scrape ", count: scrapes))
        // Each change is followed by two scrapes: the second surely began after it.
        try serve(events: 250, buffered: 30, webhook: 5, started: 1.7e9)
        scrapes += 2
        #expect(daemon.waitFor("auditseal: source-scrape ", count: scrapes))
        // The API server restarts: its counters begin again.
        try serve(events: 12, buffered: 7, webhook: 0, started: 1.7e9 + 3600)
        scrapes += 2
        #expect(daemon.waitFor("auditseal: source-scrape ", count: scrapes))
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.url + "/metrics"]).stdout
        #expect(daemon.stop() == 0)

        #expect(metrics.contains(#"auditseal_source_dropped_events_total{plugin="buffered",server="apiserver-1"} 37"#), "\(metrics.split(separator: "\n").filter { $0.contains("source") })")
        #expect(metrics.contains(#"auditseal_source_dropped_events_total{plugin="webhook",server="apiserver-1"} 5"#))
        #expect(metrics.contains(#"auditseal_source_audit_events_total{server="apiserver-1"} 162"#))
        #expect(metrics.contains(#"auditseal_source_scrape_failures_total{server="apiserver-2"}"#))
        let report = try StableJSON.decode(CompletenessReport.self, from: try FileIO.readAll(path: dir + "/data/" + CompletenessReport.path))
        #expect(report.sourceDroppedTotal == ["buffered": 37, "webhook": 5], "\(report.sourceDroppedTotal)")
        #expect(report.sourceDrops.count == 3 && report.sourceDrops.allSatisfy { $0.server == "apiserver-1" && $0.from <= $0.to })
        #expect(report.gaps.contains { $0.source == "metrics" && $0.reason.contains("restarted") }, "\(report.gaps)")
        let status = try TestSupport.run(Self.binary, ["status", dir + "/data"])
        #expect(status.stdout.contains("dropped at the source (API server metrics): buffered 37, webhook 5"), "\(status.stdout)")
    }
}
