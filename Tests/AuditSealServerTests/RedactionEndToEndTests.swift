import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Issue 33's acceptance, on one node: the leak corpus sent by the API server's own webhook sender
/// (`auditsend`) through `serve` with the default rules and an auditor key. No secret's bytes, in
/// plain, base64 or URL-encoded form, anywhere under the data directory (write-ahead files, spool,
/// segments, vault), in the receiver's log or in /metrics; `verify` INTACT; `reveal` proves every
/// original with the auditor key, refuses another key; with the vault deleted, `verify` is still
/// INTACT and reports the erasure; a changed commitment is found like any changed event.
@Suite(.serialized, .tier(.process)) struct RedactionEndToEndTests {
    /// The TokenRequest event of the leak corpus (the sender may reorder batches: not an index).
    static let tokenRequestID = "00000000-0000-0000-0000-00001eac0001"

    /// The leak corpus through `auditsend` (plain HTTP on loopback), every event acknowledged.
    static func send(to daemon: ReceiverEndToEndTests.Daemon, dir: String) throws {
        try APIServerSenderTests.sendOverHTTP(LeakCorpus.eventsPath, count: try LeakCorpus.lines().count, to: daemon.url, dir: dir, rate: 1000)
    }

    /// With shipping on: nothing secret in any object of the bucket either, the vault ships under
    /// the store's `vault/` (a closed file, at the stop), `verify s3://` is INTACT, and the auditor
    /// reveals from the bucket's store with the bucket's vault.
    @Test(.tier(.s3), .enabled(if: APIServerSenderTests.auditsend != nil && S3TestServer.available, "needs auditsend and an S3 server"))
    func withShippingTheBucketHoldsNoSecretAndTheVaultShipsApart() async throws {
        _ = try #require(APIServerSenderTests.auditsend)
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket("redaction")
        let dir = TestSupport.temporaryDirectory("redaction-s3")
        let binary = TestSupport.product("auditseal")
        #expect(try TestSupport.run(binary, ["keygen", "--auditor", "--out", dir + "/auditor"]).status == 0)
        try FileIO.writeAtomically(path: dir + "/redaction.yaml", bytes: Array("redaction:\n  auditorKeys: [\(dir)/auditor.pub]\n".utf8))
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: [
            "--config", dir + "/redaction.yaml", "--node", "cp-r", "--s3-endpoint", server.endpoint, "--s3-bucket", bucket,
            "--s3-prefix", "prod", "--s3-retention-days", "1"], environment: server.environment)
        try Self.send(to: daemon, dir: dir)
        #expect(daemon.stop() == 0)

        var everything = [UInt8]()
        var vaultObjects = [String]()
        try FileIO.makeDirectories(dir + "/bucket-vault")
        for key in try await s3.listKeys(prefix: "prod/") {
            var bytes = try #require(try await s3.getObject(key: key)).bytes
            if key.hasSuffix(".gz") { bytes = try GzipDecompressor.gunzip(bytes) }
            if key.contains("/vault/") {
                vaultObjects.append(key)
                try FileIO.writeAtomically(path: dir + "/bucket-vault/" + (key as NSString).lastPathComponent, bytes: bytes)
            }
            everything += bytes
        }
        #expect(vaultObjects.count == 1 && vaultObjects[0].hasSuffix(".vault"), "\(vaultObjects)")
        let leaks = try LeakCorpus.leaks(in: everything)
        #expect(leaks.isEmpty, "\(leaks)")

        let verified = try TestSupport.run(binary, ["verify", "s3://\(bucket)/prod", "--s3-endpoint", server.endpoint,
                                                    "--public-key", dir + "/data/signing.key.pub"], environment: server.environment)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let revealed = try TestSupport.run(binary, ["reveal", "s3://\(bucket)/prod", "--s3-endpoint", server.endpoint, "--auditor-key", dir + "/auditor",
                                                    "--vault", dir + "/bucket-vault", "--audit-id", Self.tokenRequestID], environment: server.environment)
        #expect(revealed.status == 0 && revealed.stdout.contains(#""status":"proved""#), "\(revealed.stdout)\(revealed.stderr)")
        try await s3.shutdown()
    }

    @Test(.enabled(if: APIServerSenderTests.auditsend != nil, "needs auditsend, the kube-apiserver's audit webhook sender: AUDITSEAL_AUDITSEND"))
    func noSecretReachesTheDiskAndTheAuditorRevealsEachOne() throws {
        _ = try #require(APIServerSenderTests.auditsend)
        let dir = TestSupport.temporaryDirectory("redaction-e2e")
        let binary = TestSupport.product("auditseal")
        #expect(try TestSupport.run(binary, ["keygen", "--auditor", "--out", dir + "/auditor"]).status == 0)
        #expect(try TestSupport.run(binary, ["keygen", "--auditor", "--out", dir + "/stranger"]).status == 0)
        try FileIO.writeAtomically(path: dir + "/redaction.yaml", bytes: Array("""
            redaction:
              auditorKeys: [\(dir)/auditor.pub]
            """.utf8))
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--config", dir + "/redaction.yaml", "--ops-listen", "127.0.0.1:0"])
        let lines = try LeakCorpus.lines()
        try Self.send(to: daemon, dir: dir)
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_redactions_total{rule=\"tokenrequest-token\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("redaction") })")
        #expect(daemon.stop() == 0)

        // Every file the node wrote, the receiver's log and /metrics: no secret in any form.
        var everything = Array(metrics.utf8) + (try FileIO.readAll(path: daemon.stderrPath))
        let walker = FileManager.default.enumerator(atPath: dir + "/data")!
        var files = 0
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir + "/data/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            var bytes = try FileIO.readAll(path: dir + "/data/" + relative)
            if relative.hasSuffix(".gz") { bytes = try GzipDecompressor.gunzip(bytes) }
            everything += bytes
            files += 1
        }
        #expect(files > 5)
        let leaks = try LeakCorpus.leaks(in: everything)
        #expect(leaks.isEmpty, "\(leaks)")
        #expect(try FileIO.list(dir + "/data/vault").count == 1)

        let verified = try TestSupport.run(binary, ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        #expect(verified.status == 0, "\(verified.stdout)")
        // Some secrets stand twice in their event (request and response objects): one marker each.
        let redactedLine = try #require(verified.stdout.split(separator: "\n").first { $0.hasPrefix("redacted:") }, "\(verified.stdout)")
        let redacted = Int(redactedLine.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "") ?? 0
        #expect(redacted >= (try LeakCorpus.secrets().count) && redactedLine.hasSuffix("every original is in the vault (encrypted to the auditor keys)"), "\(redactedLine)")

        // The auditor reveals each original of the TokenRequest event and of every other, proved.
        let revealed = try TestSupport.run(binary, ["reveal", dir + "/data", "--auditor-key", dir + "/auditor",
                                                    "--audit-id", Self.tokenRequestID, "-o", dir + "/proof.json"])
        #expect(revealed.status == 0, "\(revealed.stdout) \(revealed.stderr)")
        #expect(revealed.stdout.contains(#""rule":"tokenrequest-token""#) && revealed.stdout.contains(#""status":"proved""#))
        let token = try #require(try LeakCorpus.secrets().first { $0.rule == "tokenrequest-token" }).value
        #expect(revealed.stdout.contains(token))
        let checked = try TestSupport.run(binary, ["verify-proof", dir + "/proof.json", "--public-key", dir + "/data/signing.key.pub"])
        #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
        var proved = 0
        for index in 0..<lines.count {
            let r = try TestSupport.run(binary, ["reveal", dir + "/data", "--auditor-key", dir + "/auditor", "--index", "\(index)"])
            proved += r.stdout.split(separator: "\n").filter { $0.contains(#""status":"proved""#) }.count
        }
        #expect(proved == redacted)
        let stranger = try TestSupport.run(binary, ["reveal", dir + "/data", "--auditor-key", dir + "/stranger", "--audit-id", Self.tokenRequestID])
        #expect(stranger.status == 1 && stranger.stdout.contains("not-for-this-key") && !stranger.stdout.contains("eyJ"), "\(stranger.stdout)")

        // The vault deleted (its retention ended, or on purpose): the values are gone for good, the record still verifies.
        try FileManager.default.removeItem(atPath: dir + "/data/vault")
        let after = try TestSupport.run(binary, ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        #expect(after.status == 0 && after.stdout.contains("\(redacted) erased"), "\(after.stdout)")
        let gone = try TestSupport.run(binary, ["reveal", dir + "/data", "--auditor-key", dir + "/auditor", "--audit-id", Self.tokenRequestID])
        #expect(gone.status == 1 && gone.stdout.contains(#""status":"erased""#))

        // A changed commitment in a sealed line is a changed event, like any other change.
        let segments = try FileIO.list(dir + "/data/segments").filter { $0.hasSuffix(".jsonl.gz") }.sorted()
        let segment = dir + "/data/segments/" + segments[0]
        var text = try GzipDecompressor.gunzip(try FileIO.readAll(path: segment))
        let marker = try #require(RedactionMarker.find(in: text).first)
        text[marker.range.upperBound - 1] = text[marker.range.upperBound - 1] == 0x30 ? 0x31 : 0x30
        try FileIO.writeAtomically(path: segment, bytes: try GzipCompressor.gzip(text))
        let tampered = try TestSupport.run(binary, ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        #expect(tampered.status == 1 && tampered.stdout.contains("event-changed"), "\(tampered.stdout)")
    }
}
