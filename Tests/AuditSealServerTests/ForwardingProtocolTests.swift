import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The parts of each protocol Fluent Bit does not play, against small scripted receivers:
/// Splunk HEC's indexer acknowledgement (a batch the indexer never acknowledges is sent again), and
/// a receiver that requires a client certificate, reached with a kubeconfig as the API server's
/// own webhook configuration is written (`auditseal certs`' webhook-kubeconfig.yaml).
@Suite(.serialized, .tier(.process), .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3"))
struct ForwardingProtocolTests {
    static let count = 1200

    static func post(_ daemon: ReceiverEndToEndTests.Daemon, dir: String, prefix: String) throws {
        for part in 0..<3 {
            let body = String(decoding: TestSupport.eventList(count: count / 3, prefix: prefix, start: part * count / 3), as: UTF8.self)
            let (status, answer) = try ReceiverEndToEndTests.post(daemon.url, body: body, dir: dir, curlOptions: ["-H", "Content-Type: application/json"])
            #expect(status == 200, "\(answer)")
        }
    }

    /// Every auditID the receiver logged (one per line of its file, with repeats).
    static func received(_ path: String) -> [String] {
        String(decoding: (try? FileIO.readAll(path: path)) ?? [], as: UTF8.self)
            .components(separatedBy: #""auditID":""#).dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func aBatchTheIndexerNeverAcknowledgesIsSentAgain() throws {
        let dir = TestSupport.temporaryDirectory("forward-hec-ack")
        // HEC with acknowledgement: every batch gets the next ackId; ackId 0 is "lost by the indexer"
        // (never acknowledged), the others are acknowledged from their second query on.
        let hec = try ScriptedReceiver(dir: dir, name: "hec", script: """
            import http.server, json, sys
            asked = {}
            nextId = [0]
            class H(http.server.BaseHTTPRequestHandler):
                def answer(self, code, obj):
                    data = json.dumps(obj).encode()
                    self.send_response(code); self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data))); self.end_headers(); self.wfile.write(data)
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    if self.headers.get('Authorization') != 'Splunk hec-secret':
                        return self.answer(401, {'text': 'Invalid authorization', 'code': 3})
                    if not self.headers.get('X-Splunk-Request-Channel'):
                        return self.answer(400, {'text': 'Data channel is missing', 'code': 10})
                    if self.path.startswith('/services/collector/ack'):
                        acks = {}
                        for i in json.loads(body)['acks']:
                            asked[i] = asked.get(i, 0) + 1
                            acks[str(i)] = i != 0 and asked[i] >= 2
                        return self.answer(200, {'acks': acks})
                    ackId = nextId[0]; nextId[0] += 1
                    with open(sys.argv[1], 'ab') as f: f.write(body)
                    self.answer(200, {'text': 'Success', 'code': 0, 'ackId': ackId})
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """, arguments: [dir + "/hec.jsonl"])
        defer { hec.stop() }
        try FileIO.writeAtomically(path: dir + "/hec.token", bytes: Array("hec-secret\n".utf8))
        try FileIO.writeAtomically(path: dir + "/sinks.yaml", bytes: Array("""
            sinks:
              - {name: splunk, type: splunk-hec, url: "http://127.0.0.1:\(hec.port)/services/collector/event", tokenFile: \(dir)/hec.token,
                 indexerAck: true, ackTimeoutSeconds: 2, batchEvents: 400}
            """.utf8))
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", dir + "/sinks.yaml", "--ops-listen", "127.0.0.1:0"])
        try Self.post(daemon, dir: dir, prefix: "ack")
        #expect(FluentBitProcess.eventually { SinkCursorFile.next(dir + "/data", "splunk") == UInt64(Self.count) })
        let got = Self.received(dir + "/hec.jsonl")
        // Every event delivered; the first batch (ackId 0, never acknowledged) twice, nothing else.
        #expect(Set(got) == Set((0..<Self.count).map { "ack-\($0)" }))
        let repeated = Dictionary(grouping: got, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(Set(repeated) == Set((0..<400).map { "ack-\($0)" }), "\(repeated.count) repeated")
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_sink_unacknowledged_total{sink=\"splunk\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("sink") })")
        #expect(daemon.stop() == 0)
    }

    @Test func aReceiverThatRequiresAClientCertificateIsReachedWithAKubeconfig() throws {
        let dir = TestSupport.temporaryDirectory("forward-mtls")
        let binary = TestSupport.product("auditseal")
        let certs = try TestSupport.run(binary, ["certs", "--out", dir + "/pki"])
        #expect(certs.status == 0, "\(certs.stderr)")
        // An HTTPS receiver that requires a client certificate signed by the CA.
        let tls = try ScriptedReceiver(dir: dir, name: "mtls", script: """
            import http.server, ssl, sys
            pki = sys.argv[2]
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    with open(sys.argv[1], 'ab') as f: f.write(body + b'\\n')
                    self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
                def log_message(self, *a): pass
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pki + '/tls.crt', pki + '/tls.key')
            context.load_verify_locations(pki + '/ca.crt')
            context.verify_mode = ssl.CERT_REQUIRED
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            s.socket = context.wrap_socket(s.socket, server_side=True)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """, arguments: [dir + "/mtls.jsonl", dir + "/pki"])
        defer { tls.stop() }
        // The kubeconfig's credentials (CA, client certificate and key, all embedded); the URL here
        // names the scripted receiver's port. A sink that trusts the CA but has no client certificate is refused.
        try FileIO.writeAtomically(path: dir + "/sinks.yaml", bytes: Array("""
            sinks:
              - {name: falco, type: webhook, url: "https://127.0.0.1:\(tls.port)/", kubeconfig: \(dir)/pki/webhook-kubeconfig.yaml}
              - {name: nocert, type: webhook, url: "https://127.0.0.1:\(tls.port)/", caFile: \(dir)/pki/ca.crt}
            """.utf8))
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", dir + "/sinks.yaml", "--ops-listen", "127.0.0.1:0"])
        try Self.post(daemon, dir: dir, prefix: "tls")
        #expect(FluentBitProcess.eventually { SinkCursorFile.next(dir + "/data", "falco") == UInt64(Self.count) })
        #expect(Set(Self.received(dir + "/mtls.jsonl")) == Set((0..<Self.count).map { "tls-\($0)" }))
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_sink_lag_events{sink=\"nocert\"} \(Self.count)"), "\(metrics.split(separator: "\n").filter { $0.contains("sink") })")
        #expect(metrics.contains("auditseal_sink_retries_total{sink=\"nocert\"}"))
        #expect(SinkCursorFile.next(dir + "/data", "nocert") ?? 0 == 0)
        #expect(daemon.stop() == 0)
    }
}
