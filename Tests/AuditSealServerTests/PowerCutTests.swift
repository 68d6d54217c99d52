import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Power cuts (issue 14, item 1): the receiver runs under the interposer of
/// Tests/FaultInjection/faults.c, which at a chosen call (a write, writev, fsync, fdatasync,
/// ftruncate, rename or unlink in the data directory) writes out what a power cut would leave on
/// disk: each file's bytes up to its last fsync/fdatasync (with AUDITSEAL_POWERCUT_TORN, a part of
/// its unsynced bytes too), each directory's entries as at its last fsync; and dies. A new receiver
/// then starts on that image (recovery), takes the batches that were not acknowledged again (the API
/// server's retry), and stops: every acknowledged event must be there exactly once, verify green.
/// The cut points cover startup (chain and key files), appends, rotation, sealing (segment,
/// leaves, nodes, checkpoint, signature, manifest, renames, directory fsyncs) and heartbeats.
/// AUDITSEAL_POWERCUT_CUTS=N (default 24) sets how many cuts; N ≥ 200 is the long mode.
@Suite(.serialized, .tier(.slow)) struct PowerCutTests {
    static let binary = TestSupport.product("auditseal")

    /// A fresh directory with a signing key, and the environment that makes the interposer cut
    /// power at call `at` (counting only calls on paths holding `only`, when given).
    static func prepareCut(label: String, library: String, at: Int, torn: Bool, base: [String: String],
                           only: String? = nil) throws -> (dir: String, environment: [String: String]) {
        let dir = URL(fileURLWithPath: TestSupport.temporaryDirectory(label)).resolvingSymlinksInPath().path
        try FileIO.makeDirectories(dir + "/keys")
        _ = try TestSupport.run(binary, ["keygen", "--out", dir + "/keys/signing.key"])
        var environment = base
        environment["LD_PRELOAD"] = library
        environment["AUDITSEAL_POWERCUT_ROOT"] = dir + "/data"
        environment["AUDITSEAL_POWERCUT_ONLY"] = only
        environment["AUDITSEAL_POWERCUT_AT"] = String(at)
        environment["AUDITSEAL_POWERCUT_IMAGE"] = dir + "/after/data"
        if torn { environment["AUDITSEAL_POWERCUT_TORN"] = "1" }
        try FileIO.makeDirectories(dir + "/after")
        return (dir, environment)
    }

    @Test(.enabled(if: WriteFaultTests.library != nil, "needs the fault-injection library (a C compiler)"))
    func everyAcknowledgedEventSurvivesAPowerCut() throws {
        let library = try #require(WriteFaultTests.library)
        let cuts = Int(ProcessInfo.processInfo.environment["AUDITSEAL_POWERCUT_CUTS"] ?? "") ?? 24
        let batches = 16
        var survived = 0, acknowledgedTotal = 0, cutsBeforeListening = 0
        var generator = SystemRandomNumberGenerator()
        for round in 0..<cuts {
            // Spread over the whole run: startup, the first appends and seals, and later ones.
            let at = round < 8 ? round * 3 + 1 : Int.random(in: 1...260, using: &generator)
            let torn = round % 2 == 1
            let (dir, environment) = try Self.prepareCut(label: "powercut", library: library, at: at, torn: torn,
                                                         base: ProcessInfo.processInfo.environment)
            let arguments = ["--signing-key", dir + "/keys/signing.key", "--node", "n1", "--segment-max-bytes", "150000", "--heartbeat-interval-seconds", "1"]
            let bodies = (0..<batches).map { String(decoding: TestSupport.eventList(count: 40, prefix: "p\($0)"), as: UTF8.self) }
            let json = ["-H", "Content-Type: application/json"]
            var acknowledged = Set<Int>()
            if let daemon = try? ReceiverEndToEndTests.Daemon(dir: dir, arguments: arguments, environment: environment) {
                for b in 0..<batches {
                    let (status, _) = try ReceiverEndToEndTests.post(daemon.url, body: bodies[b], dir: dir, curlOptions: json)
                    if status == 200 { acknowledged.insert(b) } else { break }
                }
                if daemon.process.isRunning { _ = daemon.stop() }  // the cut point lay beyond this run
                daemon.process.waitUntilExit()
            } else {
                cutsBeforeListening += 1
            }
            guard FileManager.default.fileExists(atPath: dir + "/after/data") else { continue }  // not cut
            survived += 1
            acknowledgedTotal += acknowledged.count * 40

            // Power back: recover, take the unacknowledged batches again, stop.
            let after = try ReceiverEndToEndTests.Daemon(dir: dir + "/after", arguments: arguments)
            for b in 0..<batches where !acknowledged.contains(b) {
                let (status, answer) = try ReceiverEndToEndTests.post(after.url, body: bodies[b], dir: dir, curlOptions: json)
                #expect(status == 200, "cut at \(at)\(torn ? " (torn)" : ""): resending batch \(b): \(status) \(answer)")
            }
            #expect(after.stop() == 0)
            let verified = try TestSupport.run(Self.binary, ["verify", dir + "/after/data", "--public-key", dir + "/keys/signing.key.pub"])
            #expect(verified.status == 0, "cut at \(at)\(torn ? " (torn)" : ""): \(verified.stdout)")
            let ids = try TestSupport.auditIDs(try TestSupport.storedLines(dir + "/after/data"))
            #expect(ids.count == batches * 40 && Set(ids).count == ids.count,
                    "cut at \(at)\(torn ? " (torn)" : ""): \(ids.count) stored, \(Set(ids).count) distinct, \(acknowledged.count) batches acknowledged before the cut")
            try? FileManager.default.removeItem(atPath: dir)
        }
        print("power cuts survived: \(survived) of \(cuts) runs (\(cutsBeforeListening) before the receiver listened); acknowledged events before the cuts: \(acknowledgedTotal)")
        #expect(survived >= cuts / 2)
    }

    /// Power cuts while shipping: the cut falls on a write or fsync of the shipping ledger
    /// (`DATA_DIR/shipping/`), the record of what the bucket holds, while sealed segments and
    /// heartbeats are uploaded to an Object Lock bucket. After recovery the receiver ships the rest:
    /// every acknowledged event is stored once, each sealed file is in the bucket as exactly one
    /// version (a ledger line lost with the power is found again by HEAD, never uploaded twice), and
    /// verify is green locally and from the bucket. AUDITSEAL_POWERCUT_SHIPPING_CUTS=N (default 6).
    @Test(.tier(.s3), .enabled(if: WriteFaultTests.library != nil && S3TestServer.available, "needs the fault-injection library and an S3 server (AUDITSEAL_S3_ENDPOINT or scripts/rgw.sh)"))
    func shippedObjectsSurviveAPowerCutDuringLedgerAppends() async throws {
        let library = try #require(WriteFaultTests.library)
        let server = try #require(S3TestServer.shared)
        let (bucket, s3) = try await server.lockedBucket(#function)
        let cuts = Int(ProcessInfo.processInfo.environment["AUDITSEAL_POWERCUT_SHIPPING_CUTS"] ?? "") ?? 6
        let batches = 12
        var survived = 0, acknowledgedTotal = 0, objectsTotal = 0
        for round in 0..<cuts {
            // The ledger's first calls (its creation, chain.json and key copies) and later ones.
            let at = round < 4 ? [1, 2, 5, 9][round] : 3 + (round * 7) % 40
            let torn = round % 2 == 1
            let (dir, environment) = try Self.prepareCut(label: "powercut-ship", library: library, at: at, torn: torn,
                                                         base: server.environment, only: "/shipping/")
            let prefix = "cut\(round)"
            let arguments = ["--signing-key", dir + "/keys/signing.key", "--node", "n1", "--segment-max-bytes", "60000",
                             "--heartbeat-interval-seconds", "1", "--s3-endpoint", server.endpoint, "--s3-bucket", bucket,
                             "--s3-prefix", prefix, "--s3-retention-days", "1"]
            let bodies = (0..<batches).map { String(decoding: TestSupport.eventList(count: 40, prefix: "s\($0)"), as: UTF8.self) }
            let json = ["-H", "Content-Type: application/json"]
            var acknowledged = Set<Int>()
            if let daemon = try? ReceiverEndToEndTests.Daemon(dir: dir, arguments: arguments, environment: environment) {
                for b in 0..<batches {
                    let (status, _) = try ReceiverEndToEndTests.post(daemon.url, body: bodies[b], dir: dir, curlOptions: json)
                    if status == 200 { acknowledged.insert(b) } else { break }
                }
                // Shipping goes on after the last answer; a stop ships the closing segment too.
                _ = daemon.waitFor("auditseal: shipped ", count: 8)
                if daemon.process.isRunning { _ = daemon.stop() }
                daemon.process.waitUntilExit()
            }
            guard FileManager.default.fileExists(atPath: dir + "/after/data") else { continue }  // not cut
            survived += 1
            acknowledgedTotal += acknowledged.count * 40
            let label = "cut at ledger call \(at)\(torn ? " (torn)" : "")"

            // Power back: recover, take the unacknowledged batches again, stop (shipping the rest).
            var after = server.environment
            after["AUDITSEAL_POWERCUT_AT"] = nil
            let second = try ReceiverEndToEndTests.Daemon(dir: dir + "/after", arguments: arguments, environment: after)
            for b in 0..<batches where !acknowledged.contains(b) {
                let (status, answer) = try ReceiverEndToEndTests.post(second.url, body: bodies[b], dir: dir, curlOptions: json)
                #expect(status == 200, "\(label): resending batch \(b): \(status) \(answer)")
            }
            #expect(second.stop() == 0, "\(label)")
            let data = dir + "/after/data"
            let verified = try TestSupport.run(Self.binary, ["verify", data, "--public-key", dir + "/keys/signing.key.pub"])
            #expect(verified.status == 0, "\(label): \(verified.stdout)")
            let ids = try TestSupport.auditIDs(try TestSupport.storedLines(data))
            #expect(ids.count == batches * 40 && Set(ids).count == ids.count, "\(label): \(ids.count) stored, \(Set(ids).count) distinct")

            // The bucket: every sealed file exactly once, and verify from there.
            let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: data + "/chain.json"))
            let objectPrefix = "\(prefix)/n1/\(identity.chainID)/"
            var local = ["chain.json"] + (try FileIO.list(data + "/keys")).map { "keys/" + $0 }
            local += try FileIO.list(data + "/segments").map { "segments/" + $0 }
            let versions = try await s3.listVersions(prefix: objectPrefix).map { String($0.key.dropFirst(objectPrefix.count)) }
            #expect(versions.sorted() == local.sorted(), "\(label): bucket \(versions.count) versions, local \(local.count) files; twice: \(Dictionary(grouping: versions, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted())")
            objectsTotal += versions.count
            let remote = try TestSupport.run(Self.binary, ["verify", "s3://\(bucket)/\(prefix)", "--s3-endpoint", server.endpoint,
                                                          "--public-key", dir + "/keys/signing.key.pub"], environment: server.environment)
            #expect(remote.status == 0 && remote.stdout.contains("tree size \(batches * 40)"), "\(label): \(remote.stdout)\(remote.stderr)")
            try? FileManager.default.removeItem(atPath: dir)
        }
        print("power cuts during shipping-ledger appends: \(survived) of \(cuts) runs cut; \(acknowledgedTotal) events acknowledged before the cuts; \(objectsTotal) objects in the bucket afterwards, each once")
        #expect(survived >= cuts / 2)
        try await s3.shutdown()
    }
}
