import AuditSealCore
import AuditSealShipping
import AuditSealTestSupport
import Foundation
import Testing

/// `auditseal serve` with shipping: events posted to the receiver end up, sealed and locked, in a
/// real S3 bucket (Ceph RGW on loopback), and `verify s3://` proves them complete.
@Suite(.tier(.s3), .enabled(if: S3TestServer.available, "needs an S3 server: AUDITSEAL_S3_ENDPOINT or scripts/rgw.sh"))
struct ReceiverShippingTests {
    @Test func servedEventsAreShippedAndVerifyGreenFromTheBucket() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let dir = ReceiverEndToEndTests.temporaryDirectory()
        let daemon = try ReceiverEndToEndTests.Daemon(
            dir: dir,
            arguments: ["--node", "cp-a", "--s3-endpoint", server.endpoint, "--s3-bucket", bucket, "--s3-prefix", "staging",
                        "--s3-retention-days", "1", "--segment-max-bytes", "200000"],
            environment: server.environment)
        let batches = try ReceiverEndToEndTests.corpusBatches()
        for body in batches {
            let (status, answer) = try ReceiverEndToEndTests.post(daemon.url, body: body, dir: dir, curlOptions: ["-H", "Content-Type: application/json"])
            #expect(status == 200, "\(answer)")
        }
        let metrics = try TestSupport.run("/usr/bin/curl", ["-s", daemon.url + "/metrics"])
        #expect(metrics.stdout.contains("# TYPE auditseal_ship_lag_seconds gauge"))
        // Events stored (re-sent duplicates in the corpus are not counted twice).
        let ingested = metrics.stdout.split(separator: "\n").first { $0.hasPrefix("auditseal_events_ingested_total ") }
        let events = try #require(ingested.flatMap { Int($0.split(separator: " ")[1]) })
        #expect(events > 50)
        // SIGTERM seals the open segment and ships it before exiting.
        #expect(daemon.stop() == 0)
        let log = (try? String(contentsOfFile: dir + "/serve.err", encoding: .utf8)) ?? ""
        #expect(log.contains("shipped everything sealed"), "\(log)")

        let verified = try TestSupport.run(TestSupport.product("auditseal"),
                                           ["verify", "s3://\(bucket)/staging", "--s3-endpoint", server.endpoint,
                                            "--public-key", dir + "/data/signing.key.pub", "--s3-retention-days", "1", "--s3-lock-mode", "COMPLIANCE"],
                                           environment: server.environment)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("tree size \(events)"), "\(verified.stdout)")
        #expect(verified.stdout.contains("node:      cp-a"))
        try await s3.shutdown()
    }

    @Test func aReceiverKilledMidUploadResumesAndShipsEverySegmentExactlyOnce() async throws {
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        // A store with 30 sealed segments that were never shipped (e.g. shipping was just turned on).
        let dir = ReceiverEndToEndTests.temporaryDirectory()
        let (key, keyPath) = try TestSupport.signingKey(in: dir)
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-k")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: key)
        for b in 0..<30 {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 20, prefix: "k\(b)")))
            try await store.sealNow()
        }
        try await store.close()
        let arguments = ["--node", "cp-k", "--signing-key", keyPath, "--s3-endpoint", server.endpoint, "--s3-bucket", bucket,
                         "--s3-prefix", "prod", "--s3-retention-days", "1"]

        // The receiver starts shipping at once; kill -9 it after five confirmed objects.
        let first = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: arguments, environment: server.environment)
        #expect(first.waitFor("auditseal: shipped ", count: 5))
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(first.process.terminationReason == .uncaughtSignal)

        // Restarted, it finishes the queue; SIGTERM seals a closing heartbeat and ships that too.
        let second = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: arguments, environment: server.environment)
        #expect(second.stop() == 0)
        let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: dir + "/data/chain.json"))
        let prefix = "prod/cp-k/\(identity.chainID)/"
        var local = ["chain.json"] + (try FileIO.list(dir + "/data/keys")).map { "keys/" + $0 }
        local += try FileIO.list(dir + "/data/segments").map { "segments/" + $0 }
        let versions = try await s3.listVersions(prefix: prefix)
        #expect(versions.map { String($0.key.dropFirst(prefix.count)) }.sorted() == local.sorted(), "one version of every sealed file")

        let verified = try TestSupport.run(TestSupport.product("auditseal"),
                                           ["verify", "s3://\(bucket)/prod", "--s3-endpoint", server.endpoint, "--public-key", keyPath + ".pub"],
                                           environment: server.environment)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("tree size 600"), "\(verified.stdout)")
        try await s3.shutdown()
    }
}
