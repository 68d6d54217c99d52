import AuditSealCore
import AuditSealServer
import AuditSealShipping
import AuditSealTestSupport
import Foundation
import Logging
import Testing

/// Shipping against a real S3 server with Object Lock (Ceph RADOS Gateway on loopback, see
/// `S3TestServer`): retention lands, the lock holds, uploads are exactly once across crashes, and
/// `verify s3://` is green on what was shipped and red once an object is replaced.
@Suite(.serialized, .tier(.s3), .enabled(if: S3TestServer.available, "needs an S3 server: AUDITSEAL_S3_ENDPOINT or scripts/rgw.sh"))
struct S3IntegrationTests {
    let server = S3TestServer.shared!
    var auditseal: String { TestSupport.product("auditseal") }

    func client(bucket: String) throws -> S3Client { try server.client(bucket: bucket) }

    /// A bucket with Object Lock, and a client for it.
    func lockedBucket(_ label: String = #function) async throws -> (String, S3Client) { try await server.lockedBucket(label) }

    /// A store of `batches` sealed segments of 40 events each (every segment sealed at once).
    func sealedStore(batches: Int, node: String = "cp-1", label: String = #function) async throws -> (dir: String, key: Ed25519PrivateKey) {
        let dir = TestSupport.temporaryDirectory(label)
        let (key, _) = try TestSupport.signingKey(in: dir)
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: node)
        config.segmentMaxBytes = 1 << 30
        // Manifest n is batch n's segment, however slowly this runs: no seal or heartbeat by the clock.
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 86_400
        let store = try AuditStore(configuration: config, signingKey: key)
        for b in 0..<batches {
            _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 40, prefix: "\(node)-b\(b)")))
            try await store.sealNow()
        }
        try await store.close()
        return (dir, key)
    }

    func shipper(_ dataDir: String, _ s3: S3Client, retentionDays: Int = 2) throws -> Shipper {
        var configuration = ShippingConfiguration(endpoint: s3.endpoint, prefix: "prod")
        configuration.retentionDays = retentionDays
        return try Shipper(configuration: configuration, client: s3, dataDirectory: dataDir, logger: Logger(label: "test"))
    }

    /// Local files a store has sealed, relative to the data directory.
    func sealedFiles(_ dataDir: String) throws -> [String] {
        var out = ["chain.json"] + (try FileIO.list(dataDir + "/keys")).map { "keys/" + $0 }
        out += try FileIO.list(dataDir + "/segments").filter { !$0.hasSuffix(".tmp") }.map { "segments/" + $0 }
        return out.sorted()
    }

    @Test func shippedObjectsCarryComplianceRetentionAndTheLockHolds() async throws {
        let (_, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 3)
        let shipper = try shipper(dir + "/data", s3, retentionDays: 2)
        let uploaded = try await shipper.shipPending()
        let prefix = try shipper.storePrefix()
        let local = try sealedFiles(dir + "/data")
        #expect(uploaded == local.count)
        #expect(shipper.snapshot.pendingObjects == 0 && shipper.snapshot.objectLockEnabled == true)
        #expect(try await s3.listKeys(prefix: prefix) == local.map { prefix + $0 })

        let manifest = try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: dir + "/data/segments/000000000001.manifest.json"))
        let sealedAt = try #require(Timestamp.parse(manifest.sealedAt))
        let head = try #require(try await s3.headObject(key: prefix + "segments/000000000001.jsonl.gz"))
        #expect(head.retention?.mode == "COMPLIANCE")
        let until = try #require(head.retention?.retainUntil)
        #expect(abs(until.timeIntervalSince(sealedAt) - 2 * 86_400) < 2)
        #expect(head.metadata["sha256"] == SHA256.digest(try FileIO.readAll(path: dir + "/data/segments/000000000001.jsonl.gz")).hex)

        // The server refuses to delete the locked version, and it stays readable.
        let version = try #require(head.versionID)
        await #expect { try await s3.deleteObject(key: prefix + "segments/000000000001.jsonl.gz", versionID: version) } throws: { error in
            (error as? S3Error)?.code == "AccessDenied"
        }
        #expect(try await s3.getObject(key: prefix + "segments/000000000001.jsonl.gz", versionID: version)?.bytes.count == head.size)
        // Nothing is left to ship; a second round uploads nothing.
        #expect(try await shipper.shipPending() == 0)
        try await s3.shutdown()
    }

    @Test func aBucketWithoutObjectLockIsRefused() async throws {
        let bucket = S3TestServer.bucketName(#function)
        let s3 = try client(bucket: bucket)
        try await s3.createBucket(objectLock: false)
        let (dir, _) = try await sealedStore(batches: 1)
        let shipper = try shipper(dir + "/data", s3)
        await #expect { try await shipper.shipPending() } throws: { error in
            if case ShippingError.objectLockDisabled = error { return true }
            return false
        }
        #expect(shipper.snapshot.objectLockEnabled == false)
        #expect(try await s3.listKeys(prefix: "").isEmpty)
        try await s3.shutdown()
        // A bucket that does not exist is named as such, not as one without Object Lock.
        let missing = try client(bucket: S3TestServer.bucketName("missing"))
        let (other, _) = try await sealedStore(batches: 1, label: "missingBucket")
        await #expect { try await self.shipper(other + "/data", missing).shipPending() } throws: { error in
            (error as? S3Error)?.code == "NoSuchBucket"
        }
        try await missing.shutdown()
    }

    @Test func anObjectUploadedBeforeACrashIsRecordedNotUploadedAgain() async throws {
        let (_, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 2)
        let shipper = try shipper(dir + "/data", s3)
        let prefix = try shipper.storePrefix()
        // As if a previous run died between its PUT and its ledger write.
        let bytes = try FileIO.readAll(path: dir + "/data/segments/000000000001.jsonl.gz")
        try await s3.putObject(key: prefix + "segments/000000000001.jsonl.gz", body: bytes,
                               retention: ObjectRetention(mode: "COMPLIANCE", retainUntil: Date().addingTimeInterval(86_400)),
                               metadata: ["sha256": SHA256.digest(bytes).hex])
        try await shipper.shipPending()
        #expect(shipper.snapshot.objectsAlreadyPresent == 1)
        let versions = try await s3.listVersions(prefix: prefix)
        #expect(versions.count == (try sealedFiles(dir + "/data")).count)
        #expect(Set(versions.map(\.key)).count == versions.count)
        try await s3.shutdown()
    }

    @Test func differentContentUnderOurKeyIsAConflictNeverOverwritten() async throws {
        let (_, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 1)
        let shipper = try shipper(dir + "/data", s3)
        let prefix = try shipper.storePrefix()
        try await s3.putObject(key: prefix + "chain.json", body: Array("someone else's\n".utf8))
        await #expect { try await shipper.shipPending() } throws: { error in
            if case ShippingError.conflict = error { return true }
            return false
        }
        #expect(try await s3.listVersions(prefix: prefix + "chain.json").count == 1)
        try await s3.shutdown()
    }

    @Test func shipKilledMidwayResumesAndEveryObjectIsShippedExactlyOnce() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 30)
        let arguments = ["ship", "--data-dir", dir + "/data", "--s3-endpoint", server.endpoint, "--s3-bucket", bucket,
                         "--s3-prefix", "prod", "--s3-retention-days", "2"]
        // Start a ship, kill -9 it once it has confirmed a few objects (more are in flight).
        let process = Process()
        process.executableURL = URL(fileURLWithPath: auditseal)
        process.arguments = arguments
        process.environment = server.environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = 0
        var buffer = Data()
        while seen < 5 {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            seen = String(decoding: buffer, as: UTF8.self).components(separatedBy: "shipped ").count - 1
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let local = try sealedFiles(dir + "/data")
        #expect(seen >= 5 && seen < local.count)

        let resumed = try TestSupport.run(auditseal, arguments, environment: server.environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: dir + "/data/chain.json"))
        let prefix = "prod/cp-1/\(identity.chainID)/"
        let versions = try await s3.listVersions(prefix: prefix)
        #expect(versions.allSatisfy { !$0.isDeleteMarker })
        #expect(versions.map { String($0.key.dropFirst(prefix.count)) }.sorted() == local, "one version of every sealed file")

        let verified = try TestSupport.run(auditseal, ["verify", "s3://\(bucket)/prod", "--s3-endpoint", server.endpoint,
                                                       "--public-key", dir + "/signing.key.pub", "--s3-retention-days", "2",
                                                       "--s3-lock-mode", "COMPLIANCE"], environment: server.environment)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("INTACT"))
        try await s3.shutdown()
    }

    @Test func verifyFromTheBucketVerifiesOriginalVersionsAndNamesLaterOnes() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 3)
        let shipper = try shipper(dir + "/data", s3)
        try await shipper.shipPending()
        let verify = ["verify", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--public-key", dir + "/signing.key.pub"]
        let green = try TestSupport.run(auditseal, verify, environment: server.environment)
        #expect(green.status == 0, "\(green.stdout)\(green.stderr)")

        // Someone with write access puts a doctored copy over segment 2: a new version on top of the locked one.
        let key = try shipper.storePrefix() + "segments/000000000002.jsonl.gz"
        let original = try #require(try await s3.getObject(key: key)).bytes
        var lines = String(decoding: try GzipDecompressor.gunzip(original), as: UTF8.self)
        let victim = try #require(lines.range(of: "alice@example.com"))  // one event's user, nothing else
        lines.replaceSubrange(victim, with: "bob@example.com")
        try await s3.putObject(key: key, body: try GzipCompressor.gzip(Array(lines.utf8), level: 6))

        let red = try TestSupport.run(auditseal, verify + ["--json"], environment: server.environment)
        #expect(red.status == 1)
        // The later version is named, and it hides nothing: the original, locked version is what is
        // verified, so every sealed event still checks out (no event is reported changed).
        let report = try #require(try JSONSerialization.jsonObject(with: Data(red.stdout.utf8)) as? [String: Any])
        let findings = (report["findings"] as? [[String: Any]]) ?? []
        let overwritten = findings.first { $0["code"] as? String == "object-overwritten" }
        #expect(overwritten?["file"] as? String == "segments/000000000002.jsonl.gz", "\(red.stdout)")
        #expect((overwritten?["message"] as? String)?.contains("the original version") == true)
        #expect(!findings.contains { ["event-changed", "segment-modified", "segment-missing"].contains($0["code"] as? String ?? "") }, "\(red.stdout)")

        // A delete marker over another segment hides nothing either.
        let deletedKey = try shipper.storePrefix() + "segments/000000000001.jsonl.gz"
        try await s3.deleteObject(key: deletedKey)
        let hidden = try TestSupport.run(auditseal, verify + ["--json"], environment: server.environment)
        #expect(hidden.status == 1)
        let hiddenFindings = ((try JSONSerialization.jsonObject(with: Data(hidden.stdout.utf8)) as? [String: Any])?["findings"] as? [[String: Any]]) ?? []
        #expect(hiddenFindings.contains { $0["code"] as? String == "object-deleted" && $0["file"] as? String == "segments/000000000001.jsonl.gz" }, "\(hidden.stdout)")
        #expect(!hiddenFindings.contains { ["event-changed", "segment-missing"].contains($0["code"] as? String ?? "") }, "\(hidden.stdout)")
        try await s3.shutdown()
    }

    @Test func proofsFromTheBucketReadOriginalVersionsAndOnlyWhatTheyNeed() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 4)
        let shipper = try shipper(dir + "/data", s3)
        try await shipper.shipPending()
        let key = dir + "/signing.key.pub"
        let prove = ["prove", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--audit-id", "cp-1-b2-7", "-o", dir + "/p.json"]
        let made = try TestSupport.run(auditseal, prove, environment: server.environment)
        #expect(made.status == 0, "\(made.stderr)")
        let checked = try TestSupport.run(auditseal, ["verify-proof", dir + "/p.json", "--public-key", key])
        #expect(checked.status == 0 && checked.stdout.contains("auditID cp-1-b2-7"), "\(checked.stdout)")
        // A witness's cosignature of the newest checkpoint arrives after it shipped: it ships on the
        // next round, and the proof carries it.
        let witnessKey = try Ed25519PrivateKey.generate()
        let witness = WitnessKey(name: "witness.test/s3", publicKey: witnessKey.publicKey)
        let newest = dir + "/data/segments/000000000005.checkpoint"
        let body = try SignedNote(String(decoding: try FileIO.readAll(path: newest), as: UTF8.self)).body
        try FileIO.writeAtomically(path: dir + "/data/segments/000000000005.cosignature." + Hex.encode(witness.keyID),
                                   bytes: Array(try Cosignature.line(body: body, name: witness.name, key: witnessKey, timestamp: 1_800_000_000).utf8))
        #expect(try await shipper.shipPending() == 1)
        let cosigned = try TestSupport.run(auditseal, prove, environment: server.environment)
        #expect(cosigned.status == 0)
        let witnessed = try TestSupport.run(auditseal, ["verify-proof", dir + "/p.json", "--public-key", key, "--witness", witness.verifierKey, "--witness-quorum", "1"])
        #expect(witnessed.status == 0 && witnessed.stdout.contains("cosigned by 1 of 1"), "\(witnessed.stdout)")
        let byIndex = try TestSupport.run(auditseal, ["prove", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--index", "5", "--index", "150",
                                                      "-o", dir + "/q.json"], environment: server.environment)
        #expect(byIndex.status == 0, "\(byIndex.stderr)")
        #expect(try TestSupport.run(auditseal, ["verify-proof", dir + "/q.json", "--public-key", key]).status == 0)

        // A doctored version over segment 3 changes nothing: proofs read the original, locked version.
        let objectKey = try shipper.storePrefix() + "segments/000000000003.jsonl.gz"
        let original = try #require(try await s3.getObject(key: objectKey)).bytes
        let doctored = String(decoding: try GzipDecompressor.gunzip(original), as: UTF8.self).replacingOccurrences(of: "alice@example.com", with: "mallory@example.com")
        try await s3.putObject(key: objectKey, body: try GzipCompressor.gzip(Array(doctored.utf8), level: 6))
        let again = try TestSupport.run(auditseal, prove, environment: server.environment)
        #expect(again.status == 0)
        let proof = String(decoding: try FileIO.readAll(path: dir + "/p.json"), as: UTF8.self)
        #expect(proof.contains("alice@example.com") && !proof.contains("mallory"))
        #expect(try TestSupport.run(auditseal, ["verify-proof", dir + "/p.json", "--public-key", key]).status == 0)
        // An unknown auditID: exit 1, said so.
        let none = try TestSupport.run(auditseal, ["prove", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--audit-id", "nope"], environment: server.environment)
        #expect(none.status == 1 && none.stderr.contains("no sealed event"))
        try await s3.shutdown()
    }

    @Test func shardedVerifyFromTheBucketCombinesIntoTheUnshardedVerdict() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 7)
        let shipper = try shipper(dir + "/data", s3)
        try await shipper.shipPending()
        let base = ["verify", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--public-key", dir + "/signing.key.pub", "--json"]
        func compare(expectIntact: Bool) throws {
            let whole = try TestSupport.run(auditseal, base, environment: server.environment)
            #expect(whole.status == (expectIntact ? 0 : 1), "\(whole.stderr)")
            var files = [String]()
            for i in 0..<3 {
                let part = try TestSupport.run(auditseal, base + ["--shard", "\(i)/3"], environment: server.environment)
                #expect(part.status == 0 || part.status == 1, "\(part.stderr)")
                files.append(dir + "/shard-\(i).json")
                try FileIO.writeAtomically(path: files[i], bytes: Array(part.stdout.utf8))
            }
            let combined = try TestSupport.run(auditseal, ["verify", "--combine"] + files + ["--json"])
            #expect(combined.status == whole.status, "\(combined.stdout)\(combined.stderr)")
            let a = try JSONDecoder().decode(VerificationReport.self, from: Data(whole.stdout.utf8))
            let b = try JSONDecoder().decode(VerificationReport.self, from: Data(combined.stdout.utf8))
            #expect(a.sealedEvents == b.sealedEvents && a.treeSize == b.treeSize && a.intact == b.intact)
            #expect(a.findings.map { "\($0.code) \($0.file ?? "")" }.sorted() == b.findings.map { "\($0.code) \($0.file ?? "")" }.sorted())
        }
        try compare(expectIntact: true)
        // A doctored version over segment 5: reported once, by the shard that owns it, and by the whole.
        let key = try shipper.storePrefix() + "segments/000000000005.jsonl.gz"
        try await s3.putObject(key: key, body: try GzipCompressor.gzip(Array("{\"forged\":true}\n".utf8)))
        try compare(expectIntact: false)
        try await s3.shutdown()
    }

    @Test func catFromTheBucketReadsOriginalsAndRefusesATamperedOne() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 3)
        let shipper = try shipper(dir + "/data", s3)
        try await shipper.shipPending()
        let cat = ["cat", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--public-key", dir + "/signing.key.pub"]
        let all = try TestSupport.run(auditseal, cat, environment: server.environment)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.stdout.split(separator: "\n").count == 120)
        let status = try TestSupport.run(auditseal, ["status", "s3://\(bucket)/prod/", "--s3-endpoint", server.endpoint, "--json"], environment: server.environment)
        #expect(status.status == 0 && status.stdout.contains("\"events\" : 120"), "\(status.stdout)\(status.stderr)")
        // A doctored later version changes nothing: the original is what is read.
        let key = try shipper.storePrefix() + "segments/000000000002.jsonl.gz"
        try await s3.putObject(key: key, body: try GzipCompressor.gzip(Array("{\"forged\":true}\n".utf8)))
        #expect(try TestSupport.run(auditseal, cat, environment: server.environment).stdout == all.stdout)
        try await s3.shutdown()

        // A store tampered with before it was shipped: its original in the bucket is the tampered
        // one, and cat stops at it, naming it.
        let (bucket2, s3b) = try await lockedBucket("catTampered")
        let (dir2, _) = try await sealedStore(batches: 3, label: "catTampered")
        let seg = dir2 + "/data/segments/000000000002.jsonl.gz"
        let text = String(decoding: try GzipDecompressor.gunzip(try FileIO.readAll(path: seg)), as: UTF8.self).replacingOccurrences(of: "alice@example.com", with: "mallory@example.com")
        chmod(seg, 0o644)
        try FileIO.writeAtomically(path: seg, bytes: try GzipCompressor.gzip(Array(text.utf8)))
        try await self.shipper(dir2 + "/data", s3b).shipPending()
        let refused = try TestSupport.run(auditseal, ["cat", "s3://\(bucket2)/prod/", "--s3-endpoint", server.endpoint, "--public-key", dir2 + "/signing.key.pub"], environment: server.environment)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("segments/000000000002.jsonl.gz"), "\(refused.stderr)")
        #expect(!refused.stdout.contains("mallory"))
        try await s3b.shutdown()
    }

    @Test func chainAndKeyCopiesStayLockedAsLongAsTheNewestSegment() async throws {
        let (_, s3) = try await lockedBucket()
        let (dir, key) = try await sealedStore(batches: 1)
        var prefix = ""
        do {  // the first shipper (and its ledger lock) ends here
            let first = try shipper(dir + "/data", s3, retentionDays: 2)
            try await first.shipPending()
            prefix = try first.storePrefix()
        }
        let storeFiles = ["chain.json"] + (try FileIO.list(dir + "/data/keys")).map { "keys/" + $0 }
        var before = [String: Date]()
        for file in storeFiles { before[file] = try #require(try await s3.headObject(key: prefix + file)?.retention?.retainUntil) }

        // Later segments are locked until later (here: a retention of 5 days instead of 2); the files
        // every segment needs must follow them.
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: key)
        _ = try await store.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 40, prefix: "later")))
        try await store.sealNow()
        try await store.close()
        let later = try shipper(dir + "/data", s3, retentionDays: 5)
        try await later.shipPending()

        let newestManifest = try #require(try StoreLayout(root: dir + "/data").manifestSequences().last)
        let newest = try #require(try await s3.headObject(key: prefix + "segments/" + Manifest.stem(newestManifest) + ".manifest.json")?.retention?.retainUntil)
        for file in storeFiles {
            let after = try #require(try await s3.headObject(key: prefix + file)?.retention)
            #expect(after.retainUntil >= newest.addingTimeInterval(-60), "\(file): \(after.retainUntil) < \(newest)")
            #expect(after.retainUntil > before[file]!.addingTimeInterval(2 * 86_400), "\(file) was not extended")
            #expect(after.mode == "COMPLIANCE")
        }
        try await s3.shutdown()
    }

    @Test func twoNodesShipIntoOneBucketAndVerifySideBySide() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (one, _) = try await sealedStore(batches: 2, node: "cp-1", label: "node1")
        let (two, _) = try await sealedStore(batches: 3, node: "cp-2", label: "node2")
        try await shipper(one + "/data", s3).shipPending()
        try await shipper(two + "/data", s3).shipPending()
        // Each store's key verifies its own node; pass both.
        let keyOne = one + "/signing.key.pub"
        let result = try TestSupport.run(auditseal, ["verify", "s3://\(bucket)/prod", "--s3-endpoint", server.endpoint,
                                                     "--public-key", keyOne, "--public-key", two + "/signing.key.pub"],
                                         environment: server.environment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let summary = result.stdout.split(separator: "\n").filter { $0.hasPrefix("cp-") }
        #expect(summary.count == 2)
        #expect(summary.first?.contains("80") == true && summary.last?.contains("120") == true)
        #expect(summary.allSatisfy { $0.hasSuffix("INTACT") })
        try await s3.shutdown()
    }

    @Test func localRetentionDeletesOnlyConfirmedSegmentDataAndVerifyPointsAtTheBucket() async throws {
        let (bucket, s3) = try await lockedBucket()
        let (dir, _) = try await sealedStore(batches: 2)
        // Local retention of zero days: everything sealed is old enough, so only the upload check decides.
        var configuration = ShippingConfiguration(endpoint: s3.endpoint, prefix: "prod")
        configuration.retentionDays = 1
        configuration.localRetentionDays = 0
        let shipper = try Shipper(configuration: configuration, client: s3, dataDirectory: dir + "/data", logger: Logger(label: "test"))
        try await shipper.shipPending()
        let remaining = try FileIO.list(dir + "/data/segments")
        #expect(!remaining.contains { $0.hasSuffix(".jsonl.gz") || $0.hasSuffix(".leaves") })
        #expect(remaining.filter { $0.hasSuffix(".manifest.json") }.count == 3)  // two segments and the closing heartbeat
        #expect(shipper.snapshot.localSegmentsDeleted == 4)

        let local = try TestSupport.run(auditseal, ["verify", dir + "/data", "--public-key", dir + "/signing.key.pub"])
        #expect(local.status == 0, "\(local.stdout)")
        #expect(local.stdout.components(separatedBy: "[segment-remote-only]").count - 1 == 2)
        let remote = try TestSupport.run(auditseal, ["verify", "s3://\(bucket)/prod", "--s3-endpoint", server.endpoint,
                                                     "--public-key", dir + "/signing.key.pub"], environment: server.environment)
        #expect(remote.status == 0, "\(remote.stdout)")
        #expect(remote.stdout.contains("80 sealed"))
        try await s3.shutdown()
    }

    @Test(.enabled(if: S3TestServer.shared?.tlsEndpoint != nil, "the S3 server has no HTTPS endpoint"))
    func httpsEndpointsAreTrustedThroughACustomCAOnly() async throws {
        let url = try #require(server.tlsEndpoint)
        let bucket = S3TestServer.bucketName(#function)
        let credentials = SigV4Signer.Credentials(accessKeyID: server.accessKey, secretAccessKey: server.secretKey)
        let trusting = try S3Client(endpoint: try S3Endpoint(url: url, bucket: bucket, caFile: server.caFile), credentials: credentials)
        try await trusting.createBucket(objectLock: true)
        try await trusting.putObject(key: "k", body: Array("over TLS".utf8),
                                     retention: ObjectRetention(mode: "COMPLIANCE", retainUntil: Date().addingTimeInterval(3600)))
        #expect(try await trusting.headObject(key: "k")?.retention?.mode == "COMPLIANCE")
        try await trusting.shutdown()
        // Without the CA the same server is not trusted.
        let strict = try S3Client(endpoint: try S3Endpoint(url: url, bucket: bucket), credentials: credentials)
        await #expect(throws: (any Error).self) { _ = try await strict.headObject(key: "k") }
        try await strict.shutdown()
    }
}
