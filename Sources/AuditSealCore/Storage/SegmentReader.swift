import FoundationEssentials
import Glibc

/// The one reader of a sealed segment's data (docs/FORMAT.md §5: a gzip stream, one or more
/// members, of LF-terminated stored lines): decompressed and split into lines either a chunk at a
/// time, each line handed over as it completes (the data never held whole), or whole, with each
/// line's range in the data.
public enum SegmentReader {
    /// What `forEachLine` ended with.
    public struct End: Sendable {
        /// The bytes after the last newline: a line the file was cut inside (empty when none).
        public var trailing: [UInt8]
        /// Whether the gzip stream ended cleanly (false: truncated, or stopped early by the caller).
        public var complete: Bool
    }

    /// Calls `line` with each complete line (without its newline), in order, until it returns
    /// false; a line split across decompressed chunks is joined first. Throws the codec's error at
    /// corrupt data, after the lines before it.
    @discardableResult
    public static func forEachLine(_ gz: [UInt8], _ line: (UnsafeRawBufferPointer) throws -> Bool) throws -> End {
        struct Stop: Error {}
        var carried = [UInt8]()
        let d = try GzipDecompressor()
        do {
            try gz.withUnsafeBytes { try d.decompress($0) { chunk in
                let rest = try newlines(in: chunk) { start, newline in
                    let more: Bool
                    if carried.isEmpty {
                        more = try line(UnsafeRawBufferPointer(rebasing: chunk[start..<newline]))
                    } else {
                        carried += chunk[start..<newline]
                        more = try carried.withUnsafeBytes { try line($0) }
                        carried.removeAll(keepingCapacity: true)
                    }
                    if !more { throw Stop() }
                }
                carried += chunk[rest...]
            } }
        } catch is Stop {
            return End(trailing: [], complete: false)
        }
        return End(trailing: carried, complete: d.isComplete)
    }

    /// Calls `body` with (line start, newline offset) for each newline in `chunk`, in order;
    /// returns the offset after the last one. (Also for decompressed data read elsewhere: the
    /// reconcile index's joined write-ahead lines.)
    public static func newlines(in chunk: UnsafeRawBufferPointer, _ body: (Int, Int) throws -> Void) rethrows -> Int {
        var start = 0
        while start < chunk.count, let found = memchr(chunk.baseAddress! + start, 0x0a, chunk.count - start) {
            let newline = chunk.baseAddress!.distance(to: UnsafeRawPointer(found))
            try body(start, newline)
            start = newline + 1
        }
        return start
    }

    /// A segment's data decompressed whole, split into lines.
    public struct Whole: Sendable {
        public var data: [UInt8]
        /// The complete lines' ranges (without their newlines).
        public var lines: [Range<Int>]
        /// The bytes after the last newline, when the data does not end with one (a cut line).
        public var trailing: Range<Int>?
        /// Why the stream could not be read to its end (corrupt or truncated gzip); the data and
        /// lines are what came before.
        public var damage: String?
        /// Whether reading stopped at `upToLines` before the end.
        public var stoppedEarly: Bool
    }

    /// Decompresses `gz` whole (or up to `upToLines` lines), never throwing: damage is reported
    /// with what could be read before it.
    public static func whole(_ gz: [UInt8], upToLines limit: Int? = nil, expectedLines: Int = 0) -> Whole {
        var data = [UInt8]()
        // gzip's trailer states the (last member's) size mod 2^32: reserve it, so that a 64 MiB
        // segment is not grown by doubling (a peak of twice its size).
        if limit == nil, gz.count >= 18 {
            let isize = gz.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
            if isize <= 1 << 30 { data.reserveCapacity(isize) }
        }
        var lines = [Range<Int>]()
        lines.reserveCapacity(expectedLines)
        var lineStart = 0
        var damage: String?
        var stoppedEarly = false
        struct Enough: Error {}
        do {
            let d = try GzipDecompressor()
            try gz.withUnsafeBytes { try d.decompress($0) { chunk in
                let base = data.count
                data.append(contentsOf: chunk)
                _ = try newlines(in: chunk) { _, newline in
                    lines.append(lineStart..<(base + newline))
                    lineStart = base + newline + 1
                    if let limit, lines.count >= limit { throw Enough() }
                }
            } }
            if !d.isComplete { damage = "the gzip stream is truncated" }
        } catch is Enough {
            stoppedEarly = true
        } catch let error as AuditSealError {
            damage = error.reason
        } catch {
            damage = "\(error)"
        }
        let trailing = !stoppedEarly && lineStart < data.count ? lineStart..<data.count : nil
        return Whole(data: data, lines: lines, trailing: trailing, damage: damage, stoppedEarly: stoppedEarly)
    }
}
