import AuditSealCore
import Foundation
import Testing

/// The one segment reader: streamed and whole give the same lines, across decompressed chunks
/// (256 KiB) and gzip members, and say what is cut or damaged.
struct SegmentReaderTests {
    /// Lines of varied length, some longer than a decompressed chunk, so that lines cross chunks.
    static let lines: [[UInt8]] = (0..<400).map { i in
        Array(#"{"auditID":"e-\#(i)","pad":"\#(String(repeating: "x", count: i % 97 == 0 ? 300_000 : (i * 37) % 4000))"}"#.utf8)
    }

    static func streamed(_ gz: [UInt8]) throws -> (lines: [[UInt8]], end: SegmentReader.End) {
        var out = [[UInt8]]()
        let end = try SegmentReader.forEachLine(gz) { out.append(Array($0)); return true }
        return (out, end)
    }

    @Test func streamedAndWholeReadTheSameLinesAcrossChunksAndMembers() throws {
        let text = Self.lines.flatMap { $0 + [UInt8(0x0a)] }
        let half = text.count / 2
        // Two gzip members, split inside a line: read as one stream, as gunzip does.
        let gz = try GzipCompressor.gzip(Array(text[..<half])) + GzipCompressor.gzip(Array(text[half...]))
        let streamed = try Self.streamed(gz)
        #expect(streamed.lines == Self.lines)
        #expect(streamed.end.complete && streamed.end.trailing.isEmpty)
        let whole = SegmentReader.whole(gz)
        #expect(whole.data == text && whole.damage == nil && whole.trailing == nil && !whole.stoppedEarly)
        #expect(whole.lines.map { Array(whole.data[$0]) } == Self.lines)
    }

    @Test func aCutLineAndATruncatedStreamAreSaid() throws {
        var text = Self.lines.prefix(10).flatMap { $0 + [UInt8(0x0a)] }
        text += Array(#"{"auditID":"cut"#.utf8)
        let gz = try GzipCompressor.gzip(text)
        let streamed = try Self.streamed(gz)
        #expect(streamed.lines == Array(Self.lines.prefix(10)) && streamed.end.trailing == Array(#"{"auditID":"cut"#.utf8) && streamed.end.complete)
        let whole = SegmentReader.whole(gz)
        #expect(whole.lines.count == 10 && whole.trailing.map { Array(whole.data[$0]) } == Array(#"{"auditID":"cut"#.utf8))

        let truncated = Array(gz.dropLast(20))
        #expect(try Self.streamed(truncated).end.complete == false)
        let damaged = SegmentReader.whole(truncated)
        #expect(damaged.damage != nil && damaged.lines.count <= 10)
        #expect(damaged.lines.map { Array(damaged.data[$0]) } == Array(Self.lines.prefix(damaged.lines.count)))
    }

    @Test func readingStopsWhereTheCallerSays() throws {
        let gz = try GzipCompressor.gzip(Self.lines.flatMap { $0 + [UInt8(0x0a)] })
        var seen = 0
        let end = try SegmentReader.forEachLine(gz) { _ in seen += 1; return seen < 5 }
        #expect(seen == 5 && !end.complete)
        let first = SegmentReader.whole(gz, upToLines: 5)
        #expect(first.stoppedEarly && first.lines.count == 5 && first.damage == nil && first.trailing == nil)
    }
}
