import AuditSealCore
import AuditSealShipping
import AuditSealTestSupport
import AuditSealWatch
import Foundation
import Logging
import Testing

/// `auditseal watch` against a real bucket (Ceph RGW): a forged object version is flagged within
/// one poll, a receiver stopped with SIGSTOP raises a tail gap, a wiped and restarted data
/// directory raises a chain restart, each finding reaches an HTTP server in Alertmanager's format,
/// and a restarted watcher downloads nothing it verified before.
@Suite(.serialized, .tier(.s3), .enabled(if: S3TestServer.available, "needs an S3 server: AUDITSEAL_S3_ENDPOINT or scripts/rgw.sh"))
struct WatcherTests {
    /// A throw-away HTTP server (Python's http.server) that appends each POST body as one line to a file.
    final class AlertSink {
        let process = Process()
        let file: String
        var url = ""
        let input = Pipe()

        init(dir: String) throws {
            file = dir + "/alerts.jsonl"
            FileManager.default.createFile(atPath: file, contents: nil)
            let script = """
                import http.server, sys, threading, os
                out = sys.argv[1]
                # Exit with the test process: its end closes our standard input.
                threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
                class H(http.server.BaseHTTPRequestHandler):
                    def do_POST(self):
                        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                        with open(out, 'ab') as f:
                            f.write(self.path.encode() + b' ' + body.replace(b'\\n', b' ') + b'\\n')
                        self.send_response(200); self.end_headers()
                    def log_message(self, *a): pass
                s = http.server.HTTPServer(('127.0.0.1', 0), H)
                print(s.server_address[1], flush=True)
                s.serve_forever()
                """
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script, file]
            let out = Pipe()
            process.standardOutput = out
            process.standardInput = input
            process.standardError = FileHandle.nullDevice
            try process.run()
            var line = ""
            while !line.contains("\n"), case let chunk = out.fileHandleForReading.availableData, !chunk.isEmpty {
                line += String(decoding: chunk, as: UTF8.self)
            }
            url = "http://127.0.0.1:\(line.trimmingCharacters(in: .whitespacesAndNewlines))/api/v2/alerts"
        }

        /// Every alert received: (path, alert object).
        func alerts() throws -> [(String, [String: Any])] {
            let text = String(decoding: try FileIO.readAll(path: file), as: UTF8.self)
            return try text.split(separator: "\n").flatMap { line -> [(String, [String: Any])] in
                let path = String(line.prefix { $0 != " " })
                let array = try JSONSerialization.jsonObject(with: Data(line.drop { $0 != " " }.dropFirst().utf8)) as? [[String: Any]] ?? []
                return array.map { (path, $0) }
            }
        }

        /// Kills the server (no wait: it exits on the signal, and on its standard input closing).
        func stop() {
            kill(process.processIdentifier, SIGKILL)
            try? input.fileHandleForWriting.close()
        }

        deinit { stop() }
    }

    static func watcher(_ server: S3TestServer, bucket: String, prefix: String, keys: [String], dir: String, alerts: AlertSink?,
                        grace: Double = 60) throws -> Watcher {
        let client = try server.client(bucket: bucket)
        var configuration = Watcher.Configuration(prefix: prefix, trustedKeys: try keys.map(KeyFiles.loadPublicKey(path:)), dataDirectory: dir)
        configuration.graceSeconds = grace
        let metrics = WatchMetrics()
        let sender = alerts.map { AlertSender(urls: [$0.url], metrics: metrics, logger: Logger(label: "test")) }
        return try Watcher(configuration: configuration, client: client, alerts: sender, metrics: metrics, logger: Logger(label: "test"))
    }

    static func downloaded(_ watcher: Watcher) -> Int {
        let text = String(decoding: watcher.metrics.registry.emitToBuffer(), as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("auditseal_watch_objects_downloaded_total ") }
        return line.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
    }

    /// `watch --once` says what it checked; a cleanly stopped node's chain is closed, so its
    /// growing silence raises nothing (auditseal_watch_chain_closed 1).
    @Test func watchOnceSaysWhatItCheckedAndAClosedChainIsNotSilent() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let dir = TestSupport.temporaryDirectory("watch-once")
        let key = try TestSupport.signingKey(in: dir).key
        let store = try AuditStore(configuration: StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1"), signingKey: key)
        _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 12, prefix: "once")))
        try await store.close()
        var shipping = ShippingConfiguration(endpoint: s3.endpoint, prefix: "prod")
        shipping.retentionDays = 1
        try await Shipper(configuration: shipping, client: s3, dataDirectory: dir + "/data", logger: Logger(label: "test")).shipPending()
        let once = try TestSupport.run(TestSupport.product("auditseal"), ["watch", "s3://\(bucket)/prod", "--once", "--public-key", dir + "/signing.key.pub",
                                                                          "--data-dir", dir + "/watch", "--s3-endpoint", server.endpoint], environment: server.environment)
        #expect(once.status == 0, "\(once.stdout)\(once.stderr)")
        #expect(once.stdout.contains("checked node=cp-1 chain=") && once.stdout.contains(": 12 events verified") && once.stdout.contains("(closing"), "\(once.stdout)")
        #expect(once.stdout.contains("1 store(s) under s3://\(bucket)/prod: no findings"), "\(once.stdout)")
        let watcher = try Self.watcher(server, bucket: bucket, prefix: "prod", keys: [dir + "/signing.key.pub"], dir: dir + "/watch2", alerts: nil)
        #expect(try await watcher.pollOnce() == [])
        let metrics = String(decoding: watcher.metrics.registry.emitToBuffer(), as: UTF8.self)
        #expect(metrics.contains(#"auditseal_watch_chain_closed{node="cp-1""#) && metrics.split(separator: "\n").contains { $0.hasPrefix("auditseal_watch_chain_closed{") && $0.hasSuffix(" 1.0") || $0.hasSuffix(" 1") }, "\(metrics)")
        try await watcher.shutdown()
        try await s3.shutdown()
    }

    @Test func aForgedVersionIsFlaggedWithinOnePollAndARestartDownloadsNothingAgain() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let dir = TestSupport.temporaryDirectory("watch-forged")
        // A store of three sealed segments, shipped.
        let key = try TestSupport.signingKey(in: dir).key
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: key)
        for b in 0..<3 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 30, prefix: "w\(b)")))
            try await store.sealNow()
        }
        try await store.close()
        var shipping = ShippingConfiguration(endpoint: s3.endpoint, prefix: "prod")
        shipping.retentionDays = 1
        let shipper = try Shipper(configuration: shipping, client: s3, dataDirectory: dir + "/data", logger: Logger(label: "test"))
        try await shipper.shipPending()

        let sink = try AlertSink(dir: dir)
        let first = try Self.watcher(server, bucket: bucket, prefix: "prod", keys: [dir + "/signing.key.pub"], dir: dir + "/watch", alerts: sink)
        #expect(try await first.pollOnce() == [])
        let objects = try await s3.listVersions(prefix: "prod/").count
        #expect(Self.downloaded(first) == objects)

        // Restarted (same state directory): nothing is downloaded again, nothing is found.
        let second = try Self.watcher(server, bucket: bucket, prefix: "prod", keys: [dir + "/signing.key.pub"], dir: dir + "/watch", alerts: sink)
        #expect(try await second.pollOnce() == [])
        #expect(Self.downloaded(second) == 0)

        // Someone with write access puts a doctored version over segment 2: the next poll names it.
        let victim = try shipper.storePrefix() + "segments/000000000002.jsonl.gz"
        try await s3.putObject(key: victim, body: try GzipCompressor.gzip(Array("{\"forged\":true}\n".utf8)))
        let found = try await second.pollOnce()
        #expect(found.map(\.kind) == ["object-overwritten"], "\(found)")
        #expect(found.first?.file == "segments/000000000002.jsonl.gz")
        // Reported once, not at every poll.
        #expect(try await second.pollOnce() == [])

        let alerts = try sink.alerts()
        #expect(alerts.count == 1)
        let (path, alert) = try #require(alerts.first)
        #expect(path == "/api/v2/alerts")
        let labels = alert["labels"] as? [String: String]
        #expect(labels?["alertname"] == "AuditSealWatchFinding" && labels?["kind"] == "object-overwritten" && labels?["node"] == "cp-1")
        #expect((alert["annotations"] as? [String: String])?["description"]?.contains("the original version") == true)
        #expect(alert["startsAt"] is String)
        sink.stop()
        try await first.shutdown()
        try await second.shutdown()
        try await s3.shutdown()
    }

    @Test func completenessTravelsToTheWatcher() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let dir = TestSupport.temporaryDirectory("watch-complete")
        let key = try TestSupport.signingKey(in: dir).key
        let store = try AuditStore(configuration: StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1"), signingKey: key)
        _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 20, prefix: "hook")))
        var fill = try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 7, prefix: "fill"))
        fill.backfilled = true
        _ = try await store.append(fill)
        try await store.close()
        // The receiver's reconciliation account: the API server dropped 7 at its buffer.
        var report = CompletenessReport(updatedAt: "2026-11-28T09:00:00Z")
        report.backfilledEvents = 7
        report.sourceDroppedTotal = ["buffered": 7]
        try FileIO.makeDirectories(dir + "/data/reconcile")
        try FileIO.writeAtomically(path: dir + "/data/" + CompletenessReport.snapshotName(Timestamp.parse(report.updatedAt)!), bytes: try StableJSON.encode(report))
        var shipping = ShippingConfiguration(endpoint: s3.endpoint, prefix: "prod")
        shipping.retentionDays = 1
        let shipper = try Shipper(configuration: shipping, client: s3, dataDirectory: dir + "/data", logger: Logger(label: "test"))
        try await shipper.shipPending()

        let watcher = try Self.watcher(server, bucket: bucket, prefix: "prod", keys: [dir + "/signing.key.pub"], dir: dir + "/watch", alerts: nil)
        let found = try await watcher.pollOnce()
        #expect(found.map(\.kind) == ["source-drops"], "\(found)")
        let metrics = String(decoding: watcher.metrics.registry.emitToBuffer(), as: UTF8.self)
        #expect(metrics.contains(#"auditseal_watch_backfilled_events{node="cp-1""#) && metrics.contains(#"auditseal_watch_source_dropped_events{"#), "\(metrics)")
        // A later snapshot: a copy that differs, and no new drops.
        report.updatedAt = "2026-11-28T09:05:00Z"
        report.mismatchedEvents = 1
        report.mismatches = [.init(auditID: "hook-3", stage: "ResponseComplete", eventIndex: 3, file: "/var/log/kubernetes/audit/audit.log", line: 4, foundAt: report.updatedAt)]
        try FileIO.writeAtomically(path: dir + "/data/" + CompletenessReport.snapshotName(Timestamp.parse(report.updatedAt)!), bytes: try StableJSON.encode(report))
        try await shipper.shipPending()
        let later = try await watcher.pollOnce()
        #expect(later.map(\.kind) == ["copy-mismatch"] && later.first?.message.contains("auditID hook-3") == true, "\(later)")
        #expect(try await watcher.pollOnce() == [])
        // verify from the bucket counts the signed backfill marks.
        let verified = try await BucketVerification(client: s3, requiredRetentionDays: 0).verify(storePrefix: try shipper.storePrefix(), options: .init(trustedKeys: [key.publicKey]))
        #expect(verified.intact && verified.backfilledEvents == 7, "\(verified.findings)")
        try await watcher.shutdown()
        try await s3.shutdown()
    }

    @Test func witnessCosignaturesAreCheckedFromTheBucket() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let dir = TestSupport.temporaryDirectory("watch-witness")
        let key = try TestSupport.signingKey(in: dir).key
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: key)
        for b in 0..<3 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 10, prefix: "ww\(b)")))
            try await store.sealNow()
        }
        try await store.close()
        // A witness cosigned the newest checkpoint (4, the closing one); a line claiming to be the
        // witness's on checkpoint 2 was signed over another body (a cosignature moved between checkpoints).
        let witnessKey = try Ed25519PrivateKey.generate()
        let witness = WitnessKey(name: "witness.test/watch", publicKey: witnessKey.publicKey)
        func body(_ seq: Int) throws -> String {
            try SignedNote(String(decoding: try FileIO.readAll(path: dir + "/data/segments/" + Manifest.stem(seq) + ".checkpoint"), as: UTF8.self)).body
        }
        let id = Hex.encode(witness.keyID)
        try FileIO.writeAtomically(path: dir + "/data/segments/000000000004.cosignature." + id,
                                   bytes: Array(try Cosignature.line(body: try body(4), name: witness.name, key: witnessKey, timestamp: 1_800_000_000).utf8))
        try FileIO.writeAtomically(path: dir + "/data/segments/000000000002.cosignature." + id,
                                   bytes: Array(try Cosignature.line(body: try body(3), name: witness.name, key: witnessKey, timestamp: 1_800_000_000).utf8))
        var shipping = ShippingConfiguration(endpoint: s3.endpoint, prefix: "prod")
        shipping.retentionDays = 1
        let shipper = try Shipper(configuration: shipping, client: s3, dataDirectory: dir + "/data", logger: Logger(label: "test"))
        try await shipper.shipPending()

        let client = try server.client(bucket: bucket)
        var configuration = Watcher.Configuration(prefix: "prod", trustedKeys: [key.publicKey], dataDirectory: dir + "/watch")
        configuration.witnessPolicy = WitnessPolicy(witnesses: [witness], quorum: 1)
        configuration.witnessGraceSeconds = 0
        let watcher = try Watcher(configuration: configuration, client: client, alerts: nil, metrics: WatchMetrics(), logger: Logger(label: "test"))
        let found = try await watcher.pollOnce()
        #expect(found.map(\.kind) == ["cosignature-invalid"], "\(found)")
        #expect(found.first?.sequence == 2)

        // Quorum 2 of a second, silent witness: every checkpoint lacks it.
        let other = WitnessKey(name: "witness.test/other", publicKey: try Ed25519PrivateKey.generate().publicKey)
        var strict = configuration
        strict.dataDirectory = dir + "/watch2"
        strict.witnessPolicy = WitnessPolicy(witnesses: [witness, other], quorum: 2)
        let strictWatcher = try Watcher(configuration: strict, client: try server.client(bucket: bucket), alerts: nil, metrics: WatchMetrics(), logger: Logger(label: "test"))
        let strictFound = try await strictWatcher.pollOnce()
        #expect(Set(strictFound.map(\.kind)) == ["cosignature-invalid", "not-witnessed"], "\(strictFound)")
        try await watcher.shutdown()
        try await strictWatcher.shutdown()
        try await s3.shutdown()
    }

    /// Polls until a finding of `kind` appears (each poll a real LIST; the deadline only bounds a failure).
    static func poll(_ watcher: Watcher, until kind: String, seconds: Double = 60) async throws -> [WatchFinding] {
        var seen = [WatchFinding]()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            seen += try await watcher.pollOnce()
            if seen.contains(where: { $0.kind == kind }) { return seen }
            try await Task.sleep(for: .milliseconds(250))
        }
        return seen
    }

    @Test func aStoppedReceiverRaisesATailGapAndAWipedOneAChainRestart() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let dir = ReceiverEndToEndTests.temporaryDirectory()
        #expect(try TestSupport.run(TestSupport.product("auditseal"), ["keygen", "--out", dir + "/signing.key"]).status == 0)
        let serveArguments = ["--node", "cp-w", "--signing-key", dir + "/signing.key", "--s3-endpoint", server.endpoint, "--s3-bucket", bucket,
                              "--s3-prefix", "prod", "--s3-retention-days", "1", "--heartbeat-interval-seconds", "1", "--segment-max-age-seconds", "1"]
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: serveArguments, environment: server.environment)
        let (status, _) = try ReceiverEndToEndTests.post(daemon.url, body: String(decoding: TestSupport.eventList(count: 50, prefix: "live"), as: UTF8.self),
                                                         dir: dir, curlOptions: ["-H", "Content-Type: application/json"])
        #expect(status == 200)
        #expect(daemon.waitFor("shipped segments/", count: 6))

        let sink = try AlertSink(dir: dir)
        // A grace of 10 s: a loaded machine (CI's two cores) can delay a 1 s heartbeat's upload by a
        // few seconds, which is not the silence this test is about.
        let watcher = try Self.watcher(server, bucket: bucket, prefix: "prod", keys: [dir + "/signing.key.pub"], dir: dir + "/watch", alerts: sink, grace: 10)
        // While it runs, heartbeats keep coming: several polls spanning new manifests find nothing.
        let first = try await watcher.pollOnce()
        #expect(first == [], "\(first)")
        #expect(daemon.waitFor("shipped segments/", count: 15))
        let second = try await watcher.pollOnce()
        #expect(second == [], "\(second)")

        // SIGSTOP: the node goes quiet; within twice the heartbeat interval plus the grace the bucket shows it.
        kill(daemon.process.processIdentifier, SIGSTOP)
        let gap = try await Self.poll(watcher, until: "tail-gap")
        #expect(gap.contains { $0.kind == "tail-gap" && $0.node == "cp-w" }, "\(gap)")
        kill(daemon.process.processIdentifier, SIGCONT)
        // kill -9 and a wiped data directory, then a new receiver on the same node: a new chain.
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        try FileManager.default.removeItem(atPath: dir + "/data")
        let reborn = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: serveArguments, environment: server.environment)
        #expect(reborn.waitFor("shipped segments/", count: 3))
        let restart = try await Self.poll(watcher, until: "chain-restart")
        #expect(restart.contains { $0.kind == "chain-restart" && $0.node == "cp-w" }, "\(restart)")
        #expect(reborn.stop() == 0)

        // Both reached the alert receiver, in Alertmanager's format.
        let kinds = try sink.alerts().compactMap { ($0.1["labels"] as? [String: String])?["kind"] }
        #expect(kinds.contains("tail-gap") && kinds.contains("chain-restart"), "\(kinds)")
        sink.stop()
        try await watcher.shutdown()
        try await s3.shutdown()
    }
}
