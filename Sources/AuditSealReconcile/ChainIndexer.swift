import AuditSealCore
import FoundationEssentials

/// Brings the (auditID, stage) index up to the chain's head: every sealed segment after the last
/// one indexed (its lines, with the leaf hints of its `.leaves` file), then the open write-ahead
/// segments. Runs beside the receiver and reads only durable files; the chain's index numbers make
/// it idempotent (a record is indexed once whichever file it is read from).
public struct ChainIndexer: Sendable {
    public let database: ReconcileDatabase
    public let layout: StoreLayout
    /// Events older than this many seconds (by stageTimestamp) leave the index.
    public let horizonSeconds: Double

    /// Where each open write-ahead segment was read up to, so that a pass reads (and hashes) only
    /// the records appended since.
    /// Where each write-ahead file's last read ended (catch-ups run one at a time, from the indexer's
    /// task); a class, so that copies of the indexer share it.
    final class WriteAheadCursors: Sendable {
        let positions = Locked<[String: (offset: Int, index: UInt64)]>([:])
    }
    let cursors = WriteAheadCursors()

    public init(database: ReconcileDatabase, dataDirectory: String, horizonSeconds: Double) {
        self.database = database
        self.layout = StoreLayout(root: dataDirectory)
        self.horizonSeconds = horizonSeconds
    }

    /// What one catch-up did.
    public struct Progress: Sendable {
        public var indexed = 0
        /// The next chain index not yet indexed.
        public var nextIndex: UInt64 = 0
    }

    /// Indexes everything durable now; returns how many events it added.
    @discardableResult
    public func catchUp(now: Date = Date(), cancelled: @Sendable () -> Bool = { Task.isCancelled }) throws -> Progress {
        let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: layout.root + "/chain.json"))
        var (nextIndex, nextSequence) = try database.queue.write { db -> (UInt64, Int) in
            let known = try ReconcileDatabase.value(db, "chainID").flatMap { $0.string }
            if known != identity.chainID {
                // A new chain in this directory: nothing indexed applies to it.
                try db.execute(sql: "DELETE FROM seen")
                try ReconcileDatabase.set(db, "chainID", identity.chainID)
                try ReconcileDatabase.set(db, "nextIndex", 0)
                try ReconcileDatabase.set(db, "nextSequence", 1)
            }
            return (UInt64(try ReconcileDatabase.integer(db, "nextIndex")), Int(try ReconcileDatabase.integer(db, "nextSequence")))
        }
        var progress = Progress()
        let sha = SHA256()
        for sequence in try layout.manifestSequences() where sequence >= nextSequence {
            if cancelled() { throw CancellationError() }  // between segments: each one's entries are stored with its cursor
            let manifest = try layout.manifest(sequence)
            var entries = [(EventKey, UInt64, [UInt8])]()
            if manifest.type == "segment", let first = manifest.firstIndex, let last = manifest.lastIndex, last >= nextIndex {
                if let gz = try? FileIO.readAll(path: layout.segmentPath(sequence)) {
                    let whole = LowPriorityThread.whileIdle { SegmentReader.whole(gz, expectedLines: manifest.eventCount) }
                    if let damage = whole.damage { throw AuditSealError(.storage, "segment \(sequence): \(damage)") }
                    let data = whole.data
                    let hints = (try? FileIO.readAll(path: layout.leafHintsPath(sequence))) ?? []
                    entries = try LowPriorityThread.whileIdle {
                        try Self.entries(lines: data, firstIndex: first, count: manifest.eventCount, hints: hints, from: nextIndex, using: sha)
                    }
                } else {
                    try database.recordGap(source: "index", from: Timestamp.parse(manifest.minEventTime ?? manifest.sealedAt) ?? now,
                                           to: Timestamp.parse(manifest.maxEventTime ?? manifest.sealedAt) ?? now,
                                           reason: "segment \(sequence) (events \(first)...\(last)) was gone before it was indexed")
                }
                nextIndex = last + 1
            }
            nextSequence = sequence + 1
            try store(entries, nextIndex: nextIndex, nextSequence: nextSequence)
            progress.indexed += entries.count
        }
        // The open write-ahead segments: indexed now, found again (and skipped) once sealed.
        let walPaths = try layout.walPaths()
        cursors.positions.withLock { $0 = $0.filter { walPaths.contains($0.key) } }
        for path in walPaths {
            var joined = [UInt8]()
            var leaves = [SHA256Digest]()
            var firstIndex: UInt64?
            let resume = cursors.positions.withLock { $0[path] }.flatMap { $0.index <= nextIndex ? $0 : nil }
            guard let outcome = try? LowPriorityThread.whileIdle({ try WriteAheadReader(path: path).read(resumeAt: resume, { index, line, leaf in
                guard index >= nextIndex else { return }
                if firstIndex == nil { firstIndex = index }
                joined.append(contentsOf: line)
                joined.append(0x0a)
                leaves.append(leaf)
            }) }) else { continue }  // sealed and removed meanwhile: its segment is read next time
            let readUpTo = outcome.header.firstIndex + UInt64(outcome.recordCount) + (resume.map { $0.index - outcome.header.firstIndex } ?? 0)
            cursors.positions.withLock { $0[path] = (outcome.validLength, readUpTo) }
            guard let firstIndex, !leaves.isEmpty else { continue }
            let hints = leaves.flatMap { $0.bytes.prefix(8) }
            let entries = try LowPriorityThread.whileIdle {
                try Self.entries(lines: joined, firstIndex: firstIndex, count: leaves.count, hints: hints, from: firstIndex, using: sha)
            }
            nextIndex = firstIndex + UInt64(leaves.count)
            try store(entries, nextIndex: nextIndex, nextSequence: nextSequence)
            progress.indexed += entries.count
        }
        if horizonSeconds > 0 {
            let cutoff = Int64(now.timeIntervalSince1970 - horizonSeconds)
            try database.queue.write { db in try db.execute(sql: "DELETE FROM seen WHERE t < ? AND t > 0", arguments: [cutoff]) }
        }
        progress.nextIndex = nextIndex
        return progress
    }

    private func store(_ entries: [(EventKey, UInt64, [UInt8])], nextIndex: UInt64, nextSequence: Int) throws {
        try database.queue.write { db in
            // 128 rows a statement: the per-statement cost, not SQLite's, dominated one row at a time.
            let rows = 128
            let wide = try db.cachedStatement(sql: "INSERT OR IGNORE INTO seen(t, k, idx, leaf) VALUES " + Array(repeating: "(?, ?, ?, ?)", count: rows).joined(separator: ", "))
            let one = try db.cachedStatement(sql: "INSERT OR IGNORE INTO seen(t, k, idx, leaf) VALUES (?, ?, ?, ?)")
            var start = 0
            while start < entries.count {
                let end = min(entries.count, start + rows)
                var values = [(any SQLiteValueConvertible)?]()
                values.reserveCapacity(4 * (end - start))
                for (key, index, hint) in entries[start..<end] {
                    values += [key.second, Data(key.hash), Int64(index), Data(hint)] as [(any SQLiteValueConvertible)?]
                }
                if end - start == rows {
                    try wide.execute(arguments: values)
                } else {
                    for r in 0..<(end - start) { try one.execute(arguments: Array(values[(4 * r)..<(4 * r + 4)])) }
                }
                start = end
            }
            try ReconcileDatabase.set(db, "nextIndex", Int64(nextIndex))
            try ReconcileDatabase.set(db, "nextSequence", nextSequence)
        }
    }

    /// The index entries of newline-terminated stored lines numbered from `firstIndex`, from `from` on.
    /// `hints` holds 8 bytes of each line's leaf hash (a `.leaves` file); lines are hashed when absent.
    /// Lines are stored lines (the scanner accepted them): only their top-level keys are read.
    static func entries(lines: [UInt8], firstIndex: UInt64, count: Int, hints: [UInt8], from: UInt64, using sha: SHA256) throws -> [(EventKey, UInt64, [UInt8])] {
        var out = [(EventKey, UInt64, [UInt8])]()
        out.reserveCapacity(count)
        var i = 0
        try lines.withUnsafeBytes { all in
            func take(_ start: Int, _ end: Int) throws {
                guard end > start else { return }
                defer { i += 1 }
                let index = firstIndex + UInt64(i)
                guard index >= from else { return }
                let line = UnsafeRawBufferPointer(rebasing: all[start..<end])
                guard let fields = StoredLineKey(line) else {
                    throw AuditSealError(.storage, "event \(index) is not a stored audit event: run auditseal verify")
                }
                let key = EventKey(auditID: fields.auditID, stage: fields.stage, stageTimestamp: fields.stageTimestamp, using: sha)
                let hint: [UInt8]
                if hints.count >= (i + 1) * 8 {
                    hint = Array(hints[(i * 8)..<(i * 8 + 8)])
                } else {
                    hint = Array(MerkleHash.leaf(line, using: sha).bytes.prefix(8))
                }
                out.append((key, index, hint))
            }
            // The one newline scan (SegmentReader's); a last line without its newline counts too.
            let rest = try SegmentReader.newlines(in: all, take)
            try take(rest, all.count)
        }
        guard i == count else {
            throw AuditSealError(.storage, "events \(firstIndex)... hold \(count) events but \(i) lines were found: run auditseal verify")
        }
        return out
    }
}
