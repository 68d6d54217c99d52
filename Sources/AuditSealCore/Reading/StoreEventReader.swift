import FoundationEssentials

/// Reads a store's events by index, for followers that lag (forwarding sinks): from the sealed
/// segments (each file's SHA-256 checked against its signed manifest before a line is released) and then from the
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
        /// The store-relative path of the segment file that holds them (`segments/NAME.jsonl.gz`).
        public var file: String
        public var reason: String
        public var description: String { "events \(first)...\(last) are not on this node: \(reason)" }
    }

    let root: String
    let layout: StoreLayout
    private var segments: VerifiedSegments?
    /// The newest manifest's sequence when `segments` was read.
    private var knownManifest = 0
    /// The newest segment read, kept: a follower reads it in several pieces.
    private var cached: VerifiedSegments.Lines?
    /// A segment's data fetched from elsewhere (the bucket), checked, for the next read.
    private var supplied: (sequence: Int, lines: VerifiedSegments.Lines)?
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

    /// Gives the reader the data of a segment this node no longer holds (`Gone.file`, fetched from
    /// the bucket): it is checked against the segment's local signed manifest, exactly as a local
    /// file would be, and the next read uses it.
    public func supply(_ gone: Gone, gz: [UInt8]) throws {
        guard let all = segments, let m = all.segments.first(where: { $0.treeSize - 1 == gone.last }) else {
            throw VerifiedSegments.Failure(file: gone.file, reason: "no signed manifest here covers events \(gone.first)...\(gone.last)")
        }
        supplied = (m.sequence, try all.open(m, gz: gz, checkChain: false))
    }

    /// From a sealed segment, or nil when `index` is past every sealed one.
    private func sealed(from index: UInt64, limit: Int) throws -> Events? {
        func find(_ s: VerifiedSegments) -> Manifest? {
            s.segments.first { $0.treeSize > index && $0.treeSize - UInt64($0.eventCount) <= index }
        }
        // The manifests are read (and checked) again only when one was written since: a follower
        // reading the write-ahead tail asks here at every batch.
        if segments == nil || find(segments!) == nil && (segments!.segments.last?.treeSize ?? 0) <= index && FileIO.exists(layout.manifestPath(knownManifest + 1)) {
            knownManifest = (try? layout.manifestSequences().last) ?? 0
            segments = VerifiedSegments(source: DirectorySource(root: root), trustedKeys: nil, verify: true)
        }
        guard let all = segments, let m = find(all) else { return nil }
        let first = m.treeSize - UInt64(m.eventCount)
        if cached?.manifest.sequence != m.sequence {
            let path = layout.segmentPath(m.sequence)
            if let supplied, supplied.sequence == m.sequence {
                cached = supplied.lines
            } else {
                guard FileIO.exists(path) else {
                    throw Gone(first: first, last: m.treeSize - 1, file: "segments/" + PathName.last(path),
                               reason: "segment \(m.sequence)'s data was removed here (local retention after its upload)")
                }
                cached = try all.open(m, gz: try FileIO.readAll(path: path), checkChain: false)
            }
            supplied = nil
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
            let name = PathName.last(path)
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

/// Where a follower fetches a sealed file this node no longer holds (local retention deleted it
/// after its upload): the bucket it was shipped to. What it returns is checked against the local
/// signed manifest before a line is used.
public protocol SealedFileFetcher: Sendable {
    /// Names the place in logs (`s3://bucket/prefix/`).
    var name: String { get }
    /// A store-relative file's bytes (`segments/NAME.jsonl.gz`), or nil when it is not there.
    func fetch(_ relative: String) async throws -> [UInt8]?
}
