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
@Suite(.serialized) struct PowerCutTests {
    static let binary = TestSupport.product("auditseal")

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
            let dir = URL(fileURLWithPath: TestSupport.temporaryDirectory("powercut")).resolvingSymlinksInPath().path
            try FileIO.makeDirectories(dir + "/keys")
            _ = try TestSupport.run(Self.binary, ["keygen", "--out", dir + "/keys/signing.key"])
            var environment = ProcessInfo.processInfo.environment
            environment["LD_PRELOAD"] = library
            environment["AUDITSEAL_POWERCUT_ROOT"] = dir + "/data"
            environment["AUDITSEAL_POWERCUT_AT"] = String(at)
            environment["AUDITSEAL_POWERCUT_IMAGE"] = dir + "/after/data"
            if torn { environment["AUDITSEAL_POWERCUT_TORN"] = "1" }
            try FileIO.makeDirectories(dir + "/after")
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
}
