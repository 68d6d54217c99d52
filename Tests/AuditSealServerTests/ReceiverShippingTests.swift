import AuditSealCore
import AuditSealShipping
import AuditSealTestSupport
import Foundation
import Testing

/// `auditseal serve` with shipping: events posted to the receiver end up, sealed and locked, in a
/// real S3 bucket (Ceph RGW on loopback), and `verify s3://` proves them complete.
@Suite(.enabled(if: S3TestServer.available, "needs an S3 server: AUDITSEAL_S3_ENDPOINT or scripts/rgw.sh"))
struct ReceiverShippingTests {
    @Test func servedEventsAreShippedAndVerifyGreenFromTheBucket() async throws {
        let server = try #require(S3TestServer.shared)
        let bucket = S3TestServer.bucketName(#function)
        let s3 = try S3Client(endpoint: try S3Endpoint(url: server.endpoint, bucket: bucket),
                              credentials: .init(accessKeyID: server.accessKey, secretAccessKey: server.secretKey))
        try await s3.createBucket(objectLock: true)
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
}
