import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// `import` streams (issue 30 item 11): files of several 4 MiB pieces, plain and gzip, are
/// imported whole and verify; a pretty-printed EventList spanning lines still imports; a bad line
/// stops it with the file and line named and what was committed before it said. The memory it
/// takes is measured by Benchmarks/import.sh (a benchmark, not a test under a loaded suite).
@Suite(.tier(.process)) struct ImportStreamingTests {
    static let binary = TestSupport.product("auditseal")

    @Test func filesOfManyPiecesAreImportedWhole() throws {
        let dir = TestSupport.temporaryDirectory("import-stream")
        #expect(try TestSupport.run(Self.binary, ["keygen", "--out", dir + "/k.key"]).status == 0)
        // About 10 MB each: three pieces a file, the last one short.
        let count = 7_500
        try FileIO.writeAtomically(path: dir + "/a.log", bytes: TestSupport.apiServerLogLines(count: count, prefix: "a"))
        try FileIO.writeAtomically(path: dir + "/b.log.gz", bytes: try GzipCompressor.gzip(TestSupport.apiServerLogLines(count: count, prefix: "b"), level: 1))
        let imported = try TestSupport.run(Self.binary, ["import", "--data-dir", dir + "/data", "--signing-key", dir + "/k.key", "--node", "n1", dir + "/a.log", dir + "/b.log.gz"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("a.log: \(count) events") && imported.stdout.contains("b.log.gz: \(count) events"), "\(imported.stdout)")
        let ids = try TestSupport.auditIDs(try TestSupport.storedLines(dir + "/data"))
        #expect(ids == (0..<count).map { "a-\($0)" } + (0..<count).map { "b-\($0)" })
        let verified = try TestSupport.run(Self.binary, ["verify", dir + "/data", "--public-key", dir + "/k.key.pub"])
        #expect(verified.status == 0 && verified.stdout.contains("INTACT"))
    }

    @Test func aPrettyEventListImportsAndABadLineNamesWhatWasCommitted() throws {
        let dir = TestSupport.temporaryDirectory("import-pretty")
        #expect(try TestSupport.run(Self.binary, ["keygen", "--out", dir + "/k.key"]).status == 0)
        let list = try JSONSerialization.jsonObject(with: Data(TestSupport.eventList(count: 40, prefix: "pretty")))
        try FileIO.writeAtomically(path: dir + "/pretty.json", bytes: Array(try JSONSerialization.data(withJSONObject: list, options: [.prettyPrinted, .withoutEscapingSlashes])))
        var bad = TestSupport.apiServerLogLines(count: 10, prefix: "good")
        bad += Array("{\"kind\":\"Event\", not json\n".utf8) + TestSupport.apiServerLogLines(count: 5, prefix: "after")
        try FileIO.writeAtomically(path: dir + "/bad.log", bytes: bad)
        let result = try TestSupport.run(Self.binary, ["import", "--data-dir", dir + "/data", "--signing-key", dir + "/k.key", "--node", "n1", dir + "/pretty.json", dir + "/bad.log"])
        #expect(result.status == 2)
        #expect(result.stdout.contains("pretty.json: 40 events"), "\(result.stdout)")
        #expect(result.stderr.contains("bad.log (from line 1)") && result.stderr.contains("committed before it: 40 events") && result.stderr.contains("from \(dir)/pretty.json"), "\(result.stderr)")
        let verified = try TestSupport.run(Self.binary, ["verify", dir + "/data", "--public-key", dir + "/k.key.pub"])
        #expect(verified.status == 0 && verified.stdout.contains("INTACT"))
    }
}
