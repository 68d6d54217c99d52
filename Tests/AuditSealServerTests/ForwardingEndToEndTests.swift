import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Issue 34's acceptance with real receivers: the API server's own sender (`auditsend`) feeds
/// `serve`, and each sink delivers to Fluent Bit's matching input (webhook EventLists to `http`,
/// `splunk`, `elasticsearch` bulk, OTLP/HTTP to `opentelemetry`). Behaviour Fluent Bit lacks (a
/// receiver that refuses one event for good) is a small scripted receiver beside it.
@Suite(.serialized, .tier(.slow), .enabled(if: FluentBitProcess.binary != nil && APIServerSenderTests.auditsend != nil,
                             "needs Fluent Bit (AUDITSEAL_FLUENT_BIT) and auditsend (AUDITSEAL_AUDITSEND)"))
struct ForwardingEndToEndTests {
    /// How many events the sender sends (the issue's 20 000 by default).
    static let events = Int(ProcessInfo.processInfo.environment["AUDITSEAL_FORWARD_EVENTS"] ?? "") ?? 20_000

    static func sinksYAML(_ fb: FluentBitProcess, dir: String, extra: String = "") throws -> String {
        try FileIO.writeAtomically(path: dir + "/hec.token", bytes: Array(fb.splunkToken.utf8))
        let path = dir + "/sinks.yaml"
        try FileIO.writeAtomically(path: path, bytes: Array("""
            sinks:
              - {name: falco, type: webhook, url: "http://127.0.0.1:\(fb.ports.http)/"}
              - {name: splunk, type: splunk-hec, url: "http://127.0.0.1:\(fb.ports.splunk)/services/collector/event", tokenFile: \(dir)/hec.token}
              - {name: elastic, type: elasticsearch, url: "http://127.0.0.1:\(fb.ports.elasticsearch)"}
              - {name: otel, type: otlp, url: "http://127.0.0.1:\(fb.ports.otlp)/v1/logs"}
            \(extra)
            """.utf8))
        return path
    }

    /// Sends `count` log lines (prefix-i) through auditsend; every one must be acknowledged.
    static func send(_ count: Int, prefix: String, to daemon: ReceiverEndToEndTests.Daemon, dir: String) throws {
        let file = dir + "/\(prefix).jsonl"
        try FileIO.writeAtomically(path: file, bytes: TestSupport.apiServerLogLines(count: count, prefix: prefix))
        try APIServerSenderTests.sendOverHTTP(file, count: count, to: daemon.url, dir: dir)
    }

    /// The seal coordinates each output line carries, by protocol.
    static func indexes(_ fb: FluentBitProcess) throws -> (webhook: [Int], splunk: [Int], elastic: [Int], otlp: [Int], elasticIDs: [String]) {
        func object(_ line: String) -> [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] }
        var webhook = [Int]()
        for line in fb.lines("webhook.out") {
            for item in object(line)?["items"] as? [[String: Any]] ?? [] {
                if let i = ((item["annotations"] as? [String: Any])?["auditseal.io/index"] as? String).flatMap(Int.init) { webhook.append(i) }
            }
        }
        let splunk = fb.lines("splunk.out").compactMap { ((object($0)?["event"] as? [String: Any])?["auditseal"] as? [String: Any])?["index"] as? Int }
        let es = fb.lines("elasticsearch.out").compactMap(object)
        let elastic = es.compactMap { ($0["auditseal"] as? [String: Any])?["index"] as? Int }
        let ids = es.compactMap { (($0["@meta"] as? [String: Any])?["create"] as? [String: Any])?["_id"] as? String }
        let otlp = fb.lines("otlp.out").compactMap { line -> Int? in
            guard let body = object(line)?["log"] as? String else { return nil }
            return (object(body)?["auditseal"] as? [String: Any])?["index"] as? Int
        }
        return (webhook, splunk, elastic, otlp, ids)
    }

    @Test func everyProtocolGetsEveryEventWithItsSealCoordinatesAndAHitIsProvable() throws {
        let dir = TestSupport.temporaryDirectory("forward-all")
        let fb = try FluentBitProcess(dir: dir)
        try fb.start()
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", try Self.sinksYAML(fb, dir: dir), "--ops-listen", "127.0.0.1:0"])
        try Self.send(Self.events, prefix: "fw", to: daemon, dir: dir)
        let all = Array(0..<Self.events)
        // Counted cheaply while Fluent Bit writes (a line per event; the webhook's EventLists by their
        // index annotations), parsed once when complete.
        #expect(FluentBitProcess.eventually {
            ["splunk.out", "elasticsearch.out", "otlp.out"].allSatisfy { fb.lines($0).count >= Self.events }
                && fb.lines("webhook.out").reduce(0) { $0 + $1.components(separatedBy: "auditseal.io/index").count - 1 } >= Self.events
        })
        let got = try Self.indexes(fb)
        for (name, list) in [("webhook", got.webhook), ("splunk", got.splunk), ("elasticsearch", got.elastic), ("otlp", got.otlp)] {
            #expect(list.sorted() == all, "\(name): \(list.count) events")
        }
        #expect(Set(got.elasticIDs).count == Self.events)
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_sink_delivered_total{sink=\"falco\"} \(Self.events)"), "\(metrics.split(separator: "\n").filter { $0.contains("sink") })")
        #expect(metrics.contains("auditseal_sink_lag_events{sink=\"otel\"} 0"))
        #expect(daemon.stop() == 0)
        fb.stop()

        // A hit in the SIEM, proven: its coordinates give `prove --index`, and verify-proof holds.
        let line = try #require(fb.lines("splunk.out").first { $0.contains("\"fw-1234\"") || $0.contains("fw-\(Self.events / 2)\"") })
        let event = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["event"] as? [String: Any])
        let index = try #require((event["auditseal"] as? [String: Any])?["index"] as? Int)
        let binary = TestSupport.product("auditseal")
        let proved = try TestSupport.run(binary, ["prove", dir + "/data", "--index", "\(index)", "-o", dir + "/hit.proof"])
        #expect(proved.status == 0, "\(proved.stderr)")
        let checked = try TestSupport.run(binary, ["verify-proof", dir + "/hit.proof", "--public-key", dir + "/data/signing.key.pub"])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
        let proof = String(decoding: try FileIO.readAll(path: dir + "/hit.proof"), as: UTF8.self)
        #expect(proof.contains(event["auditID"] as? String ?? "?"))
    }

    /// A receiver down for a while, then back; the receiver killed with SIGKILL during delivery and
    /// restarted: the cursor resumes, nothing is lost, and the only duplicates are those the
    /// protocol's key removes (Elasticsearch `_id`).
    @Test func aReceiverDownThenBackAndAKilledServeLoseNothing() throws {
        let dir = TestSupport.temporaryDirectory("forward-down")
        let fb = try FluentBitProcess(dir: dir)  // ports reserved, not started: the receiver is down
        let count = min(Self.events, 3000)
        let config = try Self.sinksYAML(fb, dir: dir)
        var daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", config, "--ops-listen", "127.0.0.1:0"])
        try Self.send(count, prefix: "down", to: daemon, dir: dir)
        let lagging = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        // Acknowledged to the API server all the same: the sink lags, it does not hold ingest up.
        #expect(lagging.contains("auditseal_sink_lag_events{sink=\"elastic\"} \(count)"), "\(lagging.split(separator: "\n").filter { $0.contains("sink") })")
        let cursorBefore = SinkCursorFile.next(dir + "/data", "elastic")
        #expect((cursorBefore ?? 0) == 0)
        // Killed while it retries, then the receiver comes back and serve restarts.
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        try fb.start()
        daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", config, "--ops-listen", "127.0.0.1:0"])
        #expect(FluentBitProcess.eventually {
            guard let got = try? Self.indexes(fb) else { return false }
            return Set(got.elasticIDs).count == count && Set(got.webhook).count == count && Set(got.splunk).count == count && Set(got.otlp).count == count
        })
        let got = try Self.indexes(fb)
        #expect(Set(got.elastic) == Set(0..<count) && Set(got.elasticIDs).count == count)
        #expect(SinkCursorFile.next(dir + "/data", "elastic") == UInt64(count))
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_sink_lag_events{sink=\"elastic\"} 0"), "\(metrics.split(separator: "\n").filter { $0.contains("sink") })")
        #expect(daemon.stop() == 0)
        fb.stop()
        let status = try TestSupport.run(TestSupport.product("auditseal"), ["status", dir + "/data"])
        #expect(status.stdout.contains("sink elastic: next index \(count), 0 event(s) behind, 0 dead-lettered"), "\(status.stdout)")
    }

    /// The issue's outage form, a long mode (AUDITSEAL_FORWARD_OUTAGE_SECONDS=60): the receiver is
    /// down for that long while the sender keeps sending, then back while ingest goes on: nothing
    /// lost, no duplicate `_id`, the lag rises and returns to 0.
    static let outageSeconds = Double(ProcessInfo.processInfo.environment["AUDITSEAL_FORWARD_OUTAGE_SECONDS"] ?? "") ?? 0

    @Test(.enabled(if: outageSeconds > 0, "long mode: AUDITSEAL_FORWARD_OUTAGE_SECONDS=60"))
    func aReceiverDownForAMinuteDuringIngestLosesNothing() throws {
        let dir = TestSupport.temporaryDirectory("forward-outage")
        let fb = try FluentBitProcess(dir: dir)
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", try Self.sinksYAML(fb, dir: dir), "--ops-listen", "127.0.0.1:0"])
        var sent = 0
        let downUntil = Date().addingTimeInterval(Self.outageSeconds)
        while Date() < downUntil {  // a load for a duration, not a synchronization
            try Self.send(500, prefix: "outage\(sent)", to: daemon, dir: dir)
            sent += 500
        }
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_sink_lag_events{sink=\"elastic\"} \(sent)"), "\(metrics.split(separator: "\n").filter { $0.contains("lag") })")
        try fb.start()
        for _ in 0..<4 {
            try Self.send(500, prefix: "outage\(sent)", to: daemon, dir: dir)
            sent += 500
        }
        #expect(FluentBitProcess.eventually(seconds: 600) {
            guard let got = try? Self.indexes(fb) else { return false }
            return Set(got.elasticIDs).count == sent && Set(got.webhook).count == sent && Set(got.splunk).count == sent && Set(got.otlp).count == sent
        })
        let got = try Self.indexes(fb)
        #expect(got.elasticIDs.count == Set(got.elasticIDs).count, "duplicate _id")
        #expect(Set(got.otlp) == Set(0..<sent))
        let after = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(after.contains("auditseal_sink_lag_events{sink=\"elastic\"} 0"))
        print("outage: \(Self.outageSeconds) s down, \(sent) events sent, all delivered to the four inputs")
        #expect(daemon.stop() == 0)
        fb.stop()
    }

    /// Events local retention deleted after their upload: a sink that comes back reads them from
    /// the bucket (checked against the local signed manifests) and delivers every one.
    @Test(.tier(.s3), .enabled(if: S3TestServer.available, "needs an S3 server (AUDITSEAL_S3_ENDPOINT or root for Ceph RGW)"))
    func aSinkCatchesUpFromTheBucketWhenTheSegmentsLeftTheNode() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket("forward")
        let dir = TestSupport.temporaryDirectory("forward-bucket")
        let fb = try FluentBitProcess(dir: dir)  // down while the events arrive
        let count = min(Self.events, 3000)
        try FileIO.writeAtomically(path: dir + "/sinks.yaml", bytes: Array("""
            sinks:
              - {name: falco, type: webhook, url: "http://127.0.0.1:\(fb.ports.http)/"}
            """.utf8))
        let s3Arguments = ["--node", "cp-f", "--s3-endpoint", server.endpoint, "--s3-bucket", bucket, "--s3-prefix", "prod", "--s3-retention-days", "1"]
        var daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", dir + "/sinks.yaml"] + s3Arguments, environment: server.environment)
        try Self.send(count, prefix: "bkt", to: daemon, dir: dir)
        #expect(daemon.stop() == 0)
        // Shipped, then deleted here by local retention.
        let binary = TestSupport.product("auditseal")
        let shipped = try TestSupport.run(binary, ["ship", "--data-dir", dir + "/data", "--local-retention-days", "0",
                                                   "--s3-endpoint", server.endpoint, "--s3-bucket", bucket, "--s3-prefix", "prod"],
                                          environment: server.environment)
        #expect(shipped.status == 0, "\(shipped.stderr)")
        let left = try FileIO.list(dir + "/data/segments").filter { $0.hasSuffix(".jsonl.gz") }
        #expect(left.isEmpty, "local retention kept \(left)")
        #expect(SinkCursorFile.next(dir + "/data", "falco") ?? 0 == 0)

        try fb.start()
        daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", dir + "/sinks.yaml", "--ops-listen", "127.0.0.1:0"] + s3Arguments,
                                                  environment: server.environment)
        #expect(FluentBitProcess.eventually { (try? Self.indexes(fb)).map { Set($0.webhook).count >= count } ?? false })
        let got = Set(try Self.indexes(fb).webhook)
        #expect(got == Set(0..<count), "\(got.count) of \(count)")
        #expect(SinkCursorFile.next(dir + "/data", "falco") == UInt64(count))
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_sink_bucket_reads_total{sink=\"falco\"}"), "\(metrics.split(separator: "\n").filter { $0.contains("sink") })")
        #expect(daemon.stop() == 0)
        fb.stop()
        try await s3.shutdown()
    }

    /// A receiver that refuses one event for good (400): that event is dead-lettered, the rest
    /// delivered. A filtered, projected sink gets exactly what `cat` with the same filters prints.
    @Test func aRefusedEventIsDeadLetteredAndAFilteredSinkGetsWhatCatPrints() throws {
        let dir = TestSupport.temporaryDirectory("forward-refuse")
        let fb = try FluentBitProcess(dir: dir)
        try fb.start()
        // The scripted receiver: 400 for a body holding "refuse-me", 200 otherwise; it logs what it took.
        let refuser = try ScriptedReceiver(dir: dir, name: "refuser", script: """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    code = 400 if b'refuse-me' in body else 200
                    if code == 200:
                        open(sys.argv[1], 'ab').write(body + b'\\n')
                    self.send_response(code); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'{}')
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """, arguments: [dir + "/taken.jsonl"])
        defer { refuser.stop() }
        let port = refuser.port
        try FileIO.writeAtomically(path: dir + "/hec.token", bytes: Array(fb.splunkToken.utf8))
        try FileIO.writeAtomically(path: dir + "/sinks.yaml", bytes: Array("""
            sinks:
              - {name: picky, type: webhook, url: "http://127.0.0.1:\(port)/", batchEvents: 7}
              - {name: tenant, type: splunk-hec, url: "http://127.0.0.1:\(fb.ports.splunk)/services/collector/event", tokenFile: \(dir)/hec.token,
                 namespaces: [prod], verbs: [create, patch], drop: [requestObject, responseObject]}
            """.utf8))
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", dir + "/sinks.yaml", "--ops-listen", "127.0.0.1:0", "--no-redaction"])
        var body = TestSupport.eventList(count: 20, prefix: "ok")
        body.removeLast(2)
        body += Array(("," + TestSupport.syntheticItem(auditID: "refuse-me") + "]}").utf8)
        let (status, answer) = try ReceiverEndToEndTests.post(daemon.url, body: String(decoding: body, as: UTF8.self), dir: dir, curlOptions: ["-H", "Content-Type: application/json"])
        #expect(status == 200, "\(answer)")
        var leaks = [UInt8]()
        for line in try LeakCorpus.lines() { leaks += line + [0x0a] }
        let leakList = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["# + String(decoding: leaks, as: UTF8.self).split(separator: "\n").joined(separator: ",") + "]}"
        #expect(try ReceiverEndToEndTests.post(daemon.url, body: leakList, dir: dir, curlOptions: ["-H", "Content-Type: application/json"]).0 == 200)

        let dead = dir + "/data/sinks/picky.dead.jsonl"
        #expect(FluentBitProcess.eventually { SinkCursorFile.next(dir + "/data", "picky") == 33 && SinkCursorFile.next(dir + "/data", "tenant") == 33 })
        let deadLines = String(decoding: (try? FileIO.readAll(path: dead)) ?? [], as: UTF8.self).split(separator: "\n")
        #expect(deadLines.count == 1 && deadLines[0].contains(#""index":20"#) && deadLines[0].contains(#""status":400"#), "\(deadLines)")
        let taken = String(decoding: (try? FileIO.readAll(path: dir + "/taken.jsonl")) ?? [], as: UTF8.self)
        let takenIDs = taken.components(separatedBy: #""auditID":""#).dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(Set(takenIDs).count == 32 && !takenIDs.contains("refuse-me"))

        // The filtered sink: exactly the events `cat` prints with the same filters (once sealed), without bodies.
        #expect(daemon.stop() == 0)
        let cat = try TestSupport.run(TestSupport.product("auditseal"), ["cat", dir + "/data", "--namespace", "prod", "--verb", "create", "--verb", "patch", "-o", "json"])
        let expected = cat.stdout.split(separator: "\n").compactMap { line -> String? in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["auditID"] as? String
        }
        #expect(!expected.isEmpty)
        #expect(FluentBitProcess.eventually(seconds: 30) { fb.lines("splunk.out").count >= expected.count })
        let forwarded = fb.lines("splunk.out").compactMap { line -> [String: Any]? in
            ((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])?["event"] as? [String: Any]
        }
        #expect(forwarded.compactMap { $0["auditID"] as? String }.sorted() == expected.sorted())
        #expect(forwarded.allSatisfy { $0["requestObject"] == nil && $0["responseObject"] == nil })
        fb.stop()
    }
}

/// A sink's cursor (DATA_DIR/sinks/NAME.cursor), as the tests read it.
enum SinkCursorFile {
    static func next(_ dataDir: String, _ name: String) -> UInt64? {
        (try? StableJSON.decode(SinkCursor.self, from: FileIO.readAll(path: dataDir + "/" + SinkCursor.relativePath(name))))?.next
    }
}
