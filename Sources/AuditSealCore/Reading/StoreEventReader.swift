import Foundation

/// Reads a store's events by index, for followers that lag (forwarding sinks): from the sealed
/// segments (each checked against its signed manifest before a line is released) and then from the
/// write-ahead log, whose records are durable and acknowledged. A follower asks for the events from
/// its cursor on; the store's commit stream (`AuditStore.committedSizes`) says when to ask again.
public final class StoreEventReader {
    /// The events a read returned: consecutive indexes from `first`.
    public struct Events: Sendable {
        public var first: UInt64
        public var lines: [[UInt8]]
    }

    /// Events no longer on this node: their segment's data was removed by local retention after
    /// its upload (read them from the bucket), or is missing.
    public struct Gone: Error, CustomStringConvertible, Sendable {
        public var first: UInt64
        public var last: UInt64
        public var reason: String
        public var description: String { "events \(first)...\(last) are not on this node: \(reason)" }
    }

    let root: String
    let layout: StoreLayout
    private var segments: VerifiedSegments?
    /// The newest segment read, kept: a follower reads it in several pieces.
    private var cached: VerifiedSegments.Lines?
    /// Where the last write-ahead read ended (file, offset, next index): the next read resumes there.
    private var walPosition: (path: String, offset: Int, index: UInt64)?

    public init(dataDirectory: String) {
        root = dataDirectory
        layout = StoreLayout(root: dataDirectory)
    }

    /// Up to `limit` events from `index`, none at or past `end` (the durable size). Empty when
    /// there is nothing yet.
    public func read(from index: UInt64, limit: Int, end: UInt64) throws -> Events {
        guard index < end, limit > 0 else { return Events(first: index, lines: []) }
        if let lines = try sealed(from: index, limit: limit) { return lines }
        return try writeAhead(from: index, limit: min(UInt64(limit), end - index))
    }

    /// From a sealed segment, or nil when `index` is past every sealed one.
    private func sealed(from index: UInt64, limit: Int) throws -> Events? {
        func find(_ s: VerifiedSegments) -> Manifest? {
            s.segments.first { $0.treeSize > index && $0.treeSize - UInt64($0.eventCount) <= index }
        }
        if segments == nil || find(segments!) == nil && (segments!.segments.last?.treeSize ?? 0) <= index {
            segments = VerifiedSegments(source: DirectorySource(root: root), trustedKeys: nil, verify: true)
        }
        guard let all = segments, let m = find(all) else { return nil }
        let first = m.treeSize - UInt64(m.eventCount)
        if cached?.manifest.sequence != m.sequence {
            let path = layout.segmentPath(m.sequence)
            guard FileIO.exists(path) else {
                throw Gone(first: first, last: m.treeSize - 1, reason: "segment \(m.sequence)'s data was removed here (local retention after its upload): it is in the bucket")
            }
            cached = try all.open(m, gz: try FileIO.readAll(path: path))
        }
        let lines = cached!
        let from = Int(index - first)
        let to = min(lines.ranges.count, from + limit)
        return Events(first: index, lines: lines.ranges[from..<to].map { Array(lines.data[$0]) })
    }

    /// From the write-ahead segment holding `index` (records are durable once acknowledged).
    private func writeAhead(from index: UInt64, limit: UInt64) throws -> Events {
        var starts = [(first: UInt64, path: String)]()
        for path in try layout.walPaths() {
            let name = (path as NSString).lastPathComponent
            if let first = UInt64(name.prefix { $0.isNumber }) { starts.append((first, path)) }
        }
        starts.sort { $0.first < $1.first }
        guard let holder = starts.last(where: { $0.first <= index }) else { return Events(first: index, lines: []) }
        var lines = [[UInt8]]()
        let stop = index + limit
        let resume = walPosition.flatMap { $0.path == holder.path && $0.index == index ? (offset: $0.offset, index: $0.index) : nil }
        var skipped = 0
        let outcome = try WriteAheadReader(path: holder.path).read(recordLimit: resume == nil ? nil : Int(limit), resumeAt: resume) { i, line, _ in
            if i >= index && i < stop { lines.append(Array(line)) } else if i < index { skipped += 1 }
        }
        // Only a read that ended exactly after what it returned tells where the next one starts.
        if outcome.damage == nil, !lines.isEmpty, resume != nil || UInt64(skipped + lines.count) == UInt64(outcome.recordCount) {
            walPosition = (holder.path, outcome.validLength, index + UInt64(lines.count))
        }
        return Events(first: index, lines: lines)
    }
}
