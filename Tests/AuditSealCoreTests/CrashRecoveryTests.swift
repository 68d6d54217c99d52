import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// A child process appends batches in a loop and is killed with SIGKILL at random moments; after
/// every restart each acknowledged batch is present exactly once, in order, and the store verifies.
@Suite(.tier(.process)) struct CrashRecoveryTests {
    /// Reads a child's stdout line by line.
    final class LineReader {
        let handle: FileHandle
        var buffer = Data()
        init(_ handle: FileHandle) { self.handle = handle }

        /// The next line, or nil at end of output.
        func next() -> String? {
            while true {
                if let newline = buffer.firstIndex(of: 0x0a) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    return line
                }
                let chunk = handle.availableData
                if chunk.isEmpty { return nil }
                buffer.append(chunk)
            }
        }
    }

    @Test func everyAcknowledgedBatchSurvivesKillNineExactlyOnceInOrder() throws {
        let dir = TestSupport.temporaryDirectory()
        let keyPath = try TestSupport.signingKey(in: dir).path
        let data = dir + "/data"
        let writer = TestSupport.product("auditseal-crashwriter")
        var generator = SplitMix64(seed: 0x5eed_a0d1)
        var lastAcked = -1
        var kills = 0
        for round in 0..<40 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: writer)
            process.arguments = [data, keyPath, String(lastAcked + 1), "100000", "20"]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let reader = LineReader(out.fileHandleForReading)
            #expect(reader.next() == "ready", "round \(round)")
            // Kill after a random number of acknowledgements (0 = while the first batch is in flight).
            let acksBeforeKill = Int(generator.next() % 9)
            var acks = 0
            while acks < acksBeforeKill, let line = reader.next() {
                guard line.hasPrefix("ack "), let batch = Int(line.dropFirst(4)) else { continue }
                #expect(batch == lastAcked + 1)
                lastAcked = batch
                acks += 1
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            kills += 1
            // Acknowledgements already written before the kill count too.
            while let line = reader.next() {
                if line.hasPrefix("ack "), let batch = Int(line.dropFirst(4)) { lastAcked = batch }
            }
        }
        #expect(kills >= 20)
        #expect(lastAcked > 20)
        let auditseal = TestSupport.product("auditseal")
        let seal = try TestSupport.run(auditseal, ["seal", "--data-dir", data, "--signing-key", keyPath, "--node", "crash-node"])
        #expect(seal.status == 0, "\(seal.stderr)")
        let verify = try TestSupport.run(auditseal, ["verify", data, "--public-key", keyPath + ".pub"])
        #expect(verify.status == 0, "\(verify.stdout)")

        // Every stored event exactly once, batches in order, each acknowledged batch whole.
        var stored = [(batch: Int, event: Int)]()
        for id in try TestSupport.auditIDs(TestSupport.storedLines(data)) {
            let parts = id.dropFirst().split(separator: "-e")
            stored.append((Int(parts[0])!, Int(parts[1])!))
        }
        for (a, b) in zip(stored, stored.dropFirst()) {
            #expect(a.batch < b.batch || (a.batch == b.batch && a.event + 1 == b.event), "\(a) then \(b)")
        }
        let batches = Dictionary(grouping: stored, by: \.batch)
        for batch in 0...lastAcked {
            #expect(batches[batch]?.count == 20, "acknowledged batch \(batch)")
        }
    }
}

/// A small deterministic random generator, so a failing run can be repeated.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}
