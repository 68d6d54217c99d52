import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The kube-apiserver's own audit webhook sender (`auditsend`: k8s.io/apiserver's buffered and
/// webhook plugins, client-go's TLS) delivers the corpus to a receiver whose certificates and whose
/// webhook kubeconfig were all made by `auditseal certs`, used unchanged.
@Suite(.serialized, .tier(.process)) struct APIServerSenderTests {
    /// `AUDITSEAL_AUDITSEND` (as `.ci/run` sets it), else `../shared/tools/auditsend/auditsend` beside the clone.
    /// Nil, with a loud message on stderr, when it is not there.
    static let auditsend: String? = {
        let candidates = [ProcessInfo.processInfo.environment["AUDITSEAL_AUDITSEND"],
                          TestSupport.packageRoot + "/../shared/tools/auditsend/auditsend"].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        FileHandle.standardError.write(Data("""

            *** SKIPPING the real API-server sender test: auditsend not found (tried \(candidates.joined(separator: ", "))).
            *** Set AUDITSEAL_AUDITSEND to kube-apiserver's webhook sender (see .ci/run). ***


            """.utf8))
        return nil
    }()

    /// Sends a file of log lines through auditsend to a plain-HTTP loopback receiver (a webhook
    /// kubeconfig with no credentials); every event must be acknowledged.
    static func sendOverHTTP(_ file: String, count: Int, to url: String, dir: String, rate: Int = 3000) throws {
        let auditsend = try #require(Self.auditsend)
        try FileIO.writeAtomically(path: dir + "/kubeconfig.yaml", bytes: Array("""
            apiVersion: v1
            kind: Config
            clusters: [{name: auditseal, cluster: {server: "\(url)/v1/audit"}}]
            users: [{name: apiserver, user: {}}]
            contexts: [{name: webhook, context: {cluster: auditseal, user: apiserver}}]
            current-context: webhook
            """.utf8))
        let sent = try TestSupport.run(auditsend, ["-kubeconfig", dir + "/kubeconfig.yaml", "-events", file,
                                                   "-rate", "\(rate)", "-batch-max-wait", "1s", "-initial-backoff", "1s"])
        let counts = sent.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(counts.count >= 2 && counts[1] == count, "auditsend: \(sent.stdout) \(sent.stderr.suffix(1500))")
    }

    @Test(.enabled(if: auditsend != nil, "needs auditsend, the kube-apiserver's audit webhook sender: AUDITSEAL_AUDITSEND"))
    func realSenderWithGeneratedCertificatesStoresEveryEventOnce() throws {
        let auditsend = try #require(Self.auditsend)
        let dir = TestSupport.temporaryDirectory("auditsend")
        let binary = TestSupport.product("auditseal")
        let certs = dir + "/certs"
        let created = try TestSupport.run(binary, ["certs", "--out", certs])
        #expect(created.status == 0, "\(created.stderr)")

        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: [
            "--tls-cert", certs + "/tls.crt", "--tls-key", certs + "/tls.key",
            "--client-ca", certs + "/ca.crt", "--allowed-client-cn", "kube-apiserver"])
        // The receiver took an ephemeral port; `certs` rewrites the kubeconfig for it and keeps every certificate.
        let port = String(daemon.url.split(separator: ":").last!.prefix { $0.isNumber })
        let rewritten = try TestSupport.run(binary, ["certs", "--out", certs, "--port", port])
        #expect(rewritten.stdout.contains("renewed \(certs)/webhook-kubeconfig.yaml"), "\(rewritten.stdout)")
        #expect(rewritten.stdout.components(separatedBy: "kept    ").count == 4, "\(rewritten.stdout)")

        // The corpus as the log backend writes it: one event per line.
        let events = try TestSupport.corpusEvents()
        let eventsFile = dir + "/events.jsonl"
        var text = ""
        for i in 0..<events.count { text += String(decoding: events.line(i), as: UTF8.self) + "\n" }
        try FileIO.writeAtomically(path: eventsFile, bytes: Array(text.utf8))
        // The corpus repeats a few (auditID, stage) pairs: those are re-sends, stored once.
        var unique = [String]()
        var seen = Set<String>()
        for i in 0..<events.count where seen.insert(events.auditID(i) + "\u{0}" + events.stage(i)).inserted { unique.append(events.auditID(i)) }
        #expect(unique.count < events.count && unique.count > 80)

        let sent = try TestSupport.run(auditsend, ["-kubeconfig", certs + "/webhook-kubeconfig.yaml", "-events", eventsFile,
                                                   "-rate", "2000", "-batch-max-wait", "1s", "-initial-backoff", "1s"])
        #expect(sent.status == 0, "\(sent.stderr)")
        // events_read events_acked events_dropped_by_webhook events_dropped_at_buffer seconds
        let counts = sent.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(counts.count >= 4 && counts[0] == events.count && counts[1] == events.count && counts[2] == 0 && counts[3] == 0,
                "auditsend: \(sent.stdout) \(sent.stderr.suffix(2000))")

        // Renewal: new leaves under the same CA, a new kubeconfig; the receiver takes them without a
        // restart (SIGHUP here; a periodic check does the same), and the sender goes on with the new files.
        let renewed = try TestSupport.run(binary, ["certs", "--out", certs, "--port", port, "--renew-now"])
        #expect(renewed.stdout.contains("renewed \(certs)/tls.crt") && renewed.stdout.contains("kept    \(certs)/ca.crt"), "\(renewed.stdout)")
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitFor("tls reloaded"))
        let served = try TestSupport.run("/bin/bash", ["-c", "openssl s_client -connect 127.0.0.1:\(port) -CAfile \(certs)/ca.crt -cert \(certs)/apiserver.crt -key \(certs)/apiserver.key </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"])
        let onDisk = try TestSupport.run("/usr/bin/openssl", ["x509", "-in", certs + "/tls.crt", "-noout", "-fingerprint", "-sha256"])
        #expect(served.stdout == onDisk.stdout && !onDisk.stdout.isEmpty, "served \(served.stdout) on disk \(onDisk.stdout)")
        let resent = try TestSupport.run(auditsend, ["-kubeconfig", certs + "/webhook-kubeconfig.yaml", "-events", eventsFile,
                                                     "-rate", "2000", "-batch-max-wait", "1s", "-initial-backoff", "1s"])
        let again = resent.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(again.count >= 2 && again[1] == events.count, "auditsend after renewal: \(resent.stdout) \(resent.stderr.suffix(2000))")

        #expect(daemon.stop() == 0)
        let verified = try TestSupport.run(binary, ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.contains("tree size \(unique.count)"), "\(verified.stdout)")
        let stored = try TestSupport.auditIDs(try TestSupport.storedLines(dir + "/data"))
        #expect(stored.sorted() == unique.sorted())
    }
}
