import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The commands as an operator runs them on day one (issue 30 items 3, 5 and 7): `cat` on a live
/// store says what it is not showing, `prove --around` with a time cut to the second finds the
/// first event of a segment (and a miss says what was searched), and a shard's report survives
/// `kubectl logs`' default of 10 lines.
@Suite(.tier(.process)) struct DayOneCommandsTests {
    static let binary = TestSupport.product("auditseal")

    /// Two sealed segments (events at 09:59:59.2 and at 10:00:00.5, the second segment's first
    /// event the one to find) and 7 events left in the write-ahead log.
    static func store(_ dir: String) async throws -> String {
        let data = dir + "/data"
        let key = try TestSupport.signingKey(in: dir).key
        let store = try AuditStore(configuration: StoreConfiguration(dataDirectory: data, nodeName: "cp-1"), signingKey: key)
        _ = try await store.append(try EventScanner(mode: .stream).scan(TestSupport.apiServerLogLines(count: 30, prefix: "early", time: "2026-11-24T09:59:59.200000Z")))
        try await store.sealNow()
        _ = try await store.append(try EventScanner(mode: .stream).scan(TestSupport.apiServerLogLines(count: 30, prefix: "second", time: "2026-11-24T10:00:00.500000Z")))
        try await store.sealNow()
        _ = try await store.append(try EventScanner(mode: .stream).scan(TestSupport.apiServerLogLines(count: 7, prefix: "open", time: "2026-11-24T10:00:01.000000Z")))
        try await store.heartbeatNow()
        // Left open as a running receiver leaves it (a crash, as far as the directory can tell).
        return data
    }

    @Test func catSaysHowManyWriteAheadEventsItDoesNotShow() async throws {
        let dir = TestSupport.temporaryDirectory("dayone-cat")
        let data = try await Self.store(dir)
        let cat = try TestSupport.run(Self.binary, ["cat", data, "--public-key", dir + "/signing.key.pub"])
        #expect(cat.status == 0, "\(cat.stderr)")
        #expect(cat.stdout.split(separator: "\n").count == 60)
        #expect(cat.stderr.contains("7 newer event(s) in the open segment (write-ahead log) not shown"), "\(cat.stderr)")
    }

    @Test func proveAroundASecondFindsTheFirstEventOfASegment() async throws {
        let dir = TestSupport.temporaryDirectory("dayone-prove")
        let data = try await Self.store(dir)
        let found = try TestSupport.run(Self.binary, ["prove", data, "--audit-id", "second-0", "--around", "2026-11-24T10:00:00Z", "-o", dir + "/p.json"])
        #expect(found.status == 0, "\(found.stderr)")
        #expect(try TestSupport.run(Self.binary, ["verify-proof", dir + "/p.json", "--public-key", dir + "/signing.key.pub"]).status == 0)
        // A miss names what it searched.
        let missed = try TestSupport.run(Self.binary, ["prove", data, "--audit-id", "early-3", "--around", "2026-11-24T10:00:00Z"])
        #expect(missed.status == 1)
        #expect(missed.stderr.contains("searched the 1 of 2 sealed segment(s) whose event times cover 2026-11-24T10:00:00.000000Z...2026-11-24T10:00:01.000000Z"), "\(missed.stderr)")
        let absent = try TestSupport.run(Self.binary, ["prove", data, "--audit-id", "open-1"])
        #expect(absent.status == 1 && absent.stderr.contains("searched all 2 sealed segment(s)") && absent.stderr.contains("write-ahead log"), "\(absent.stderr)")
    }

    @Test func aShardsReportSurvivesTheLastTenLinesOfItsLog() async throws {
        let dir = TestSupport.temporaryDirectory("dayone-shards")
        let data = try await Self.store(dir)
        var files = [String]()
        for i in 0..<2 {
            // What `kubectl logs -l ...` returns by default: the last 10 lines of stdout and stderr together.
            let shard = try TestSupport.run("/bin/sh", ["-c", "\"$0\" verify \"$1\" --shard \(i)/2 --json 2>&1 | tail -n 10", Self.binary, data])
            #expect(shard.stdout.split(separator: "\n").count <= 10)
            files.append(dir + "/shard-\(i).json")
            try FileIO.writeAtomically(path: files[i], bytes: Array(shard.stdout.utf8))
        }
        let combined = try TestSupport.run(Self.binary, ["verify", "--combine"] + files)
        let whole = try TestSupport.run(Self.binary, ["verify", data])
        #expect(combined.status == whole.status && combined.status == 0, "\(combined.stdout)\(combined.stderr)")
        #expect(combined.stdout.contains("INTACT"), "\(combined.stdout)")
    }
}
