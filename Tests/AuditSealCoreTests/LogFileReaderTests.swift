import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// LogFileReader: any piece of a plain or gzip file (several members, as `--audit-log-compress`
/// and `cat a.gz b.gz` make) is the same bytes as the whole content's slice; a cut gzip file throws.
@Suite struct LogFileReaderTests {
    @Test(arguments: [false, true])
    func everyPieceIsTheSliceOfTheWholeContent(_ compressed: Bool) throws {
        let dir = TestSupport.temporaryDirectory("log-reader")
        let content = TestSupport.apiServerLogLines(count: 3000, prefix: "r")
        let path = dir + "/audit.log" + (compressed ? ".gz" : "")
        let bytes = compressed
            ? try GzipCompressor.gzip(Array(content[0..<1_000_000]), level: 1) + GzipCompressor.gzip(Array(content[1_000_000...]), level: 6)
            : content
        try FileIO.writeAtomically(path: path, bytes: bytes)
        let reader = try LogFileReader(path: path)
        #expect(reader.compressed == compressed)
        var generator = SystemRandomNumberGenerator()
        // Forward, as import and reconciliation read, then anywhere (backwards restarts the stream).
        var offset: UInt64 = 0
        while offset < content.count {
            let limit = Int.random(in: 1...400_000, using: &generator)
            let piece = try reader.read(from: offset, limit: limit)
            #expect(piece[...] == content[Int(offset)..<min(content.count, Int(offset) + limit)])
            offset += UInt64(piece.count)
        }
        #expect(try reader.read(from: offset, limit: 10).isEmpty)
        for _ in 0..<20 {
            let at = Int.random(in: 0...content.count, using: &generator)
            let limit = Int.random(in: 1...300_000, using: &generator)
            #expect(try reader.read(from: UInt64(at), limit: limit)[...] == content[at..<min(content.count, at + limit)])
        }
    }

    @Test func aCutGzipFileThrowsAtItsEnd() throws {
        let dir = TestSupport.temporaryDirectory("log-reader-cut")
        let gz = try GzipCompressor.gzip(TestSupport.apiServerLogLines(count: 500, prefix: "c"))
        try FileIO.writeAtomically(path: dir + "/cut.gz", bytes: Array(gz.dropLast(100)))
        let reader = try LogFileReader(path: dir + "/cut.gz")
        #expect(throws: AuditSealError.self) { _ = try reader.read(from: 0, limit: 10 << 20) }
    }
}
