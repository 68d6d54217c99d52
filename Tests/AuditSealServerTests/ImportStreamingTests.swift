import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// `import` streams (issue 30 item 11): a file several times its chunk is imported with memory
/// near the chunk, plain and gzip; a pretty-printed EventList spanning lines still imports; a bad
/// line stops it with the file and line named and what was committed before it said.
@Suite struct ImportStreamingTests {
    static let binary = TestSupport.product("auditseal")

    /// Runs a command under python3, which reports the peak RSS (KiB) of its one child.
    static func measured(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String, peakKiB: Int) {
        let script = "import resource,subprocess,sys; r=subprocess.run(sys.argv[1:]); sys.stderr.write('peak-kib=%d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
        let r = try TestSupport.run("/usr/bin/python3", ["-c", script] + arguments)
        let peak = r.stderr.components(separatedBy: "peak-kib=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        return (r.status, r.stdout, r.stderr, peak)
    }

    @Test func aLargeFileIsImportedInBoundedMemory() throws {
        let dir = TestSupport.temporaryDirectory("import-stream")
        #expect(try TestSupport.run(Self.binary, ["keygen", "--out", dir + "/k.key"]).status == 0)
        // About 130 MB of content: eight chunks; half of it gzip.
        let half = 50_000
        try FileIO.writeAtomically(path: dir + "/a.log", bytes: TestSupport.apiServerLogLines(count: half, prefix: "a"))
        try FileIO.writeAtomically(path: dir + "/b.log.gz", bytes: try GzipCompressor.gzip(TestSupport.apiServerLogLines(count: half, prefix: "b"), level: 1))
        let imported = try Self.measured([Self.binary, "import", "--data-dir", dir + "/data", "--signing-key", dir + "/k.key", "--node", "n1", dir + "/a.log", dir + "/b.log.gz"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported \(2 * half) events"), "\(imported.stdout)")
        // A whole-file read held each 65 MB file twice over, and its index.
        #expect(imported.peakKiB > 0 && imported.peakKiB < 150 * 1024, "import peaked at \(imported.peakKiB / 1024) MiB for \(2 * half) events")
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
