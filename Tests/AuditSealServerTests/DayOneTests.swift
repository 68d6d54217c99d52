import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing
import Yams

/// Day one as an operator (issue 30): the DaemonSet played from each rendered overlay. Its
/// ConfigMap's files and its container arguments are taken as rendered, the host paths moved into a
/// scratch root, the listeners onto ephemeral loopback ports (the only rewrites); the API server is
/// the kube-apiserver's own webhook sender over mTLS with the kubeconfig `auditseal certs` writes;
/// the s3 overlay ships to Ceph RGW. Checked: the events are readable with `cat` once the shipped
/// segment age has passed (and in the bucket), the reconcile metrics are exported, a signing-key
/// rotation done as documented keeps being cosigned by a witness, SIGTERM finishes within 10 s,
/// and `verify --witness-quorum 1` after the clean stop is INTACT (with s3, from the bucket too).
@Suite(.tier(.process)) struct DayOneTests {
    typealias Daemon = ReceiverEndToEndTests.Daemon
    static let binary = TestSupport.product("auditseal")
    static let kubectl: String? = {
        for dir in ((ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/bin:/usr/bin").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(dir)/kubectl") { return "\(dir)/kubectl" }
        return nil
    }()
    static var ready: Bool { kubectl != nil && APIServerSenderTests.auditsend != nil }

    /// Host paths of the DaemonSet's mounts, moved under `root`.
    static func relocate(_ text: String, into root: String) -> String {
        var out = text
        for prefix in ["/var/lib/auditseal", "/etc/auditseal/", "/var/log/kubernetes/", "/var/run/secrets/auditseal"] {
            out = out.replacingOccurrences(of: prefix, with: root + prefix)
        }
        return out
    }

    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try TestSupport.run(binary, arguments, environment: environment)
        return (r.status, r.stdout, r.stderr)
    }

    @Test(.enabled(if: ready, "needs kubectl (kustomize) and auditsend (AUDITSEAL_AUDITSEND)"))
    func theRenderedLocalOnlyOverlayRunsAsDocumented() async throws {
        try await theRenderedOverlayRunsAsDocumented("local-only")
    }

    @Test(.tier(.s3), .enabled(if: ready, "needs kubectl (kustomize) and auditsend (AUDITSEAL_AUDITSEND)"))
    func theRenderedS3OverlayRunsAsDocumented() async throws {
        try await theRenderedOverlayRunsAsDocumented("s3")
    }

    func theRenderedOverlayRunsAsDocumented(_ overlay: String) async throws {
        let s3Server: S3TestServer? = overlay == "s3" ? try #require(S3TestServer.shared, "the s3 overlay needs an S3 server") : nil
        let dir = TestSupport.temporaryDirectory("dayone-\(overlay)")
        let root = dir + "/node"
        // The overlay as rendered.
        let rendered = try TestSupport.run(try #require(Self.kubectl), ["kustomize", TestSupport.packageRoot + "/deploy/overlays/" + overlay])
        try #require(rendered.status == 0, "\(rendered.stderr)")
        let documents = try Yams.load_all(yaml: rendered.stdout).compactMap { $0 as? [String: Any] }
        let configMap = try #require(documents.first { $0["kind"] as? String == "ConfigMap" })
        let daemonSet = try #require(documents.first { $0["kind"] as? String == "DaemonSet" })
        let pod = try #require(((daemonSet["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let mounts = (container["volumeMounts"] as? [[String: Any]] ?? []).compactMap { $0["mountPath"] as? String }
        for mount in mounts { try FileIO.makeDirectories(root + mount) }
        let configDir = try #require(mounts.first { $0.hasSuffix("/config") })

        // What the Secrets and the node hold: the signing key, the certificates, the API server's log.
        #expect(try Self.run(["keygen", "--out", root + "/etc/auditseal/keys/signing.key"]).status == 0)
        #expect(try Self.run(["keygen", "--out", dir + "/next.key"]).status == 0)
        #expect(try Self.run(["certs", "--out", dir + "/certs", "--server-ip", "127.0.0.1"]).status == 0)
        for (name, from) in [("tls.crt", "tls.crt"), ("tls.key", "tls.key"), ("ca.crt", "ca.crt")] {
            try FileIO.writeAtomically(path: root + "/etc/auditseal/tls/" + name, bytes: try FileIO.readAll(path: dir + "/certs/" + from))
        }
        try FileIO.writeAtomically(path: root + "/var/run/secrets/auditseal/token", bytes: Array("projected-token".utf8))
        try FileIO.writeAtomically(path: root + "/var/run/secrets/auditseal/ca.crt", bytes: try FileIO.readAll(path: dir + "/certs/ca.crt"))
        let events = 2_000
        // Events of the last moments (younger than reconcile's settleSeconds): the webhook delivers them.
        let now = String(Timestamp.format(Date()).prefix(19)) + ".134567Z"
        let log = TestSupport.apiServerLogLines(count: events, prefix: "day1", time: now)
        try FileIO.writeAtomically(path: root + "/var/log/kubernetes/audit/audit.log", bytes: log)
        // The bucket (s3 overlay): this test's own on the RGW.
        let bucket = S3TestServer.bucketName("dayone")
        if let s3Server {
            let client = try s3Server.client(bucket: bucket)
            try await client.createBucket(objectLock: true)
            try await client.shutdown()
        }
        for (name, text) in try #require(configMap["data"] as? [String: String]) {
            var relocated = Self.relocate(text, into: root)
            if let s3Server {
                relocated = relocated.replacingOccurrences(of: "https://s3.eu-west-1.amazonaws.com", with: s3Server.endpoint)
                    .replacingOccurrences(of: "acme-k8s-audit", with: bucket)
            }
            try FileIO.writeAtomically(path: root + configDir + "/" + name, bytes: Array(relocated.utf8))
        }
        let environment = ProcessInfo.processInfo.environment
        if let s3Server {
            try FileIO.writeAtomically(path: root + "/etc/auditseal/s3/credentials", bytes: Array("""
                [default]
                aws_access_key_id = \(s3Server.accessKey)
                aws_secret_access_key = \(s3Server.secretKey)

                """.utf8))
        }
        // The container's arguments, with the downward API filled in and the ops listener on loopback.
        var arguments = Array((container["args"] as? [String] ?? []).dropFirst())
        #expect(arguments.first == "--config")
        arguments = arguments.map { $0.replacingOccurrences(of: "$(NODE_NAME)", with: "cp-1").replacingOccurrences(of: "$(NODE_IP):9443", with: "127.0.0.1:0") }
        arguments = arguments.map { $0.hasPrefix("/") ? Self.relocate($0, into: root) : $0 } + ["--listen", "127.0.0.1:0"]
        let data = root + "/var/lib/auditseal"

        // First start: the chain is created; stop it to give the witness the chain's log keys.
        let first = try Daemon(dir: dir, arguments: arguments, defaults: false, environment: environment)
        #expect(first.stop() == 0)
        let logKeys = try [root + "/etc/auditseal/keys/signing.key.pub", dir + "/next.key.pub"].map {
            try Self.run(["witness", "--log-key-for", data, "--public-key", $0]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try Self.run(["keygen", "--out", dir + "/witness.key"]).status == 0)
        let witnessArgs = ["--key", dir + "/witness.key", "--data-dir", dir + "/witness", "--name", "witness.example.com/audit"]
        let witnessKey = try Self.run(["witness"] + witnessArgs + ["--print-key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let witness = try WitnessProcess(arguments: witnessArgs + ["--path-prefix", "/audit"] + logKeys.flatMap { ["--log", $0] })
        defer { witness.kill() }
        // The operator's addition, in a file of its own beside the overlay's (read after them).
        try FileIO.writeAtomically(path: root + configDir + "/zz-witness.yaml", bytes: Array("""
            witnesses:
              - url: \(witness.url)/audit
                key: "\(witnessKey)"

            """.utf8))

        let daemon = try Daemon(dir: dir, arguments: arguments, defaults: false, environment: environment)
        // A hang detector, not a timing assertion: a wait that never ends kills the receiver, so
        // that the waits below fail instead of hanging the suite.
        let watchdog = DispatchWorkItem { kill(daemon.process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: watchdog)
        defer { watchdog.cancel() }
        // The API server: its webhook kubeconfig from `auditseal certs`, pointed at this port.
        let port = try #require(daemon.url.split(separator: ":").last.map(String.init))
        let kubeconfig = String(decoding: try FileIO.readAll(path: dir + "/certs/webhook-kubeconfig.yaml"), as: UTF8.self)
        #expect(kubeconfig.contains("https://127.0.0.1:8443/v1/audit"))
        try FileIO.writeAtomically(path: dir + "/webhook-kubeconfig.yaml", bytes: Array(kubeconfig.replacingOccurrences(of: "127.0.0.1:8443", with: "127.0.0.1:" + port).utf8))
        let sentAt = Date()
        let sent = try TestSupport.run(try #require(APIServerSenderTests.auditsend), ["-kubeconfig", dir + "/webhook-kubeconfig.yaml", "-events", root + "/var/log/kubernetes/audit/audit.log",
                                                                                    "-rate", "2000", "-batch-max-wait", "1s", "-initial-backoff", "1s"])
        let counts = sent.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(counts.count >= 2 && counts[1] == events, "auditsend: \(sent.stdout) \(sent.stderr.suffix(800))")

        // Readable with cat once the shipped segment age (a minute) has passed: the seal comes by age.
        #expect(daemon.waitFor("auditseal: sealed segment "))
        let sealedLine = String(decoding: daemon.pending, as: UTF8.self).components(separatedBy: "auditseal: sealed segment ").dropFirst().first ?? ""
        let sealedSequence = try #require(Int(sealedLine.prefix { $0.isNumber }), "\(sealedLine.prefix(40))")
        let sealedAfter = Date().timeIntervalSince(sentAt)
        #expect(sealedAfter < 90, "sealed \(Int(sealedAfter)) s after the events arrived: the shipped config must seal within about a minute")
        let cat = try Self.run(["cat", data, "--public-key", root + "/etc/auditseal/keys/signing.key.pub"])
        #expect(cat.status == 0 && cat.stdout.split(separator: "\n").count == events, "\(cat.stderr)")
        if s3Server != nil {
            // And in the bucket: the sealed segment's manifest is shipped right after its seal.
            #expect(daemon.waitFor("auditseal: shipped segments/" + Manifest.stem(sealedSequence) + ".manifest.json"))
            let fromBucket = try Self.run(["cat", "s3://\(bucket)/prod-eu1", "--s3-endpoint", s3Server!.endpoint,
                                           "--public-key", root + "/etc/auditseal/keys/signing.key.pub"], environment: s3Server!.environment)
            #expect(fromBucket.status == 0 && fromBucket.stdout.split(separator: "\n").count == events, "\(fromBucket.stderr)")
        }
        // Reconciliation is configured by the overlay: its metrics are exported.
        let opsURL = daemon.opsURL
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", opsURL + "/metrics"]).stdout
        for name in ["auditseal_reconcile_passes_total", "auditseal_reconcile_log_events_total", "auditseal_source_scrape_failures_total", "auditseal_events_ingested_total"] {
            #expect(metrics.contains(name), "\(name) missing from /metrics")
        }

        // The documented rotation: the new key's log key is already at the witness; replace the key file, SIGHUP.
        try FileIO.writeAtomically(path: root + "/etc/auditseal/keys/signing.key", bytes: try FileIO.readAll(path: dir + "/next.key"))
        chmod(root + "/etc/auditseal/keys/signing.key", 0o400)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitFor("auditseal: signing key rotated "))
        let more = TestSupport.apiServerLogLines(count: 100, prefix: "after-rotation", time: now)
        try FileIO.writeAtomically(path: dir + "/more.log", bytes: more)
        let sentMore = try TestSupport.run(try #require(APIServerSenderTests.auditsend), ["-kubeconfig", dir + "/webhook-kubeconfig.yaml", "-events", dir + "/more.log",
                                                                                        "-batch-max-wait", "1s", "-initial-backoff", "1s"])
        #expect(sentMore.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }.dropFirst().first == 100, "\(sentMore.stdout)")

        // SIGTERM: in-flight batches, the closing seal, its cosignature and (s3) its shipping, within 10 s.
        let stopping = Date()
        #expect(daemon.stop() == 0)
        let stopSeconds = Date().timeIntervalSince(stopping)
        #expect(stopSeconds < 10, "the stop took \(stopSeconds) s")
        let stderr = String(decoding: try FileIO.readAll(path: daemon.stderrPath), as: UTF8.self)
        #expect(!stderr.contains("witness submission failed") && !stderr.contains("closing checkpoint was not cosigned"), "\(stderr.suffix(3000))")

        let verified = try Self.run(["verify", data, "--public-key", root + "/etc/auditseal/keys/signing.key.pub",
                                     "--witness", witnessKey, "--witness-quorum", "1"])
        #expect(verified.status == 0 && verified.stdout.contains("INTACT"), "\(verified.stdout)")
        if let s3Server {
            let fromBucket = try Self.run(["verify", "s3://\(bucket)/prod-eu1", "--s3-endpoint", s3Server.endpoint,
                                           "--public-key", root + "/etc/auditseal/keys/signing.key.pub", "--witness", witnessKey, "--witness-quorum", "1"], environment: s3Server.environment)
            #expect(fromBucket.status == 0 && fromBucket.stdout.contains("INTACT"), "\(fromBucket.stdout)\(fromBucket.stderr.suffix(1000))")
        }
        #expect(try TestSupport.storedLines(data).count == events + 100)
    }
}
