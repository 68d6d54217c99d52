import AuditSealCore
import FoundationEssentials
import Logging

/// Reconciliation of the chain with the API server's log files (issue 13): every log event the
/// chain lacks (same auditID and stage) is appended, marked as backfilled; every event in both is
/// compared line for line, and a difference is reported, never repaired (the chain stays as it was).
///
/// One pass: the index catches up with the chain; each log file is read from its saved position
/// in chunks; each chunk's missing events are appended (the store's own duplicate window settles a
/// race with the webhook delivering the same event meanwhile), and only then does the position
/// move, with the counters, in one transaction. A crash anywhere re-reads lines the index then
/// finds stored: nothing twice, nothing missed.
public final class Backfiller: Sendable {
    public typealias Append = @Sendable (EventBatch) async throws -> AppendResult

    public struct Settings: Sendable {
        /// The configured log paths (`--audit-log-path`); rotated siblings are found beside them.
        public var logPaths: [String]
        /// Only events at least this old (stageTimestamp) are reconciled: the webhook may still
        /// deliver younger ones (its batching and retries take up to minutes).
        public var settleSeconds: Double
        /// How long the index remembers events, and so how far back events can be reconciled.
        public var horizonSeconds: Double
        /// Bytes read from a log file at a time.
        public var chunkBytes: Int = 4 << 20

        public init(logPaths: [String], settleSeconds: Double, horizonSeconds: Double) {
            self.logPaths = logPaths
            self.settleSeconds = settleSeconds
            self.horizonSeconds = horizonSeconds
        }
    }

    /// What one pass did.
    public struct PassResult: Sendable, Equatable {
        public var read = 0
        public var matched = 0
        public var backfilled = 0
        public var mismatched = 0
        public var beyondHorizon = 0
        public var unreadable = 0
        public var indexed = 0
    }

    public let settings: Settings
    public let database: ReconcileDatabase
    let indexer: ChainIndexer
    /// Where the index catches up: a thread at nice 19, so that indexing takes only the CPU ingest
    /// leaves (at saturation it lags, and catches up when ingest drops; it is off the
    /// acknowledgement path, and each pass brings it to the head before it reconciles).
    let indexing: LowPriorityThread
    let dataDirectory: String
    let append: Append
    let logger: Logger
    /// The log files' identities seen so far, and when the last pass ran (passes run one at a time).
    private let fingerprints = Locked<[String: (ino: UInt64, size: Int, fingerprint: String)]>([:])
    private let lastPass = Locked<Date?>(nil)
    private let hooks = Locked<(observe: (@Sendable (PassResult) -> Void)?, redactionChanges: (@Sendable ([UInt8]) -> Bool)?)>((nil, nil))
    /// Called after each counted chunk (metrics).
    public var observe: (@Sendable (PassResult) -> Void)? {
        get { hooks.withLock { $0.observe } }
        set { hooks.withLock { $0.observe = newValue } }
    }
    /// Whether redaction changes a log line before it is chained (`serve` sets it when redaction is
    /// on): such a stored copy carries markers with fresh salts, so its leaf cannot match the log
    /// line's, and it is counted as matched by (auditID, stage) alone, not as a difference.
    public var redactionChanges: (@Sendable ([UInt8]) -> Bool)? {
        get { hooks.withLock { $0.redactionChanges } }
        set { hooks.withLock { $0.redactionChanges = newValue } }
    }

    public init(settings: Settings, database: ReconcileDatabase, dataDirectory: String, logger: Logger, append: @escaping Append) {
        self.settings = settings
        self.database = database
        self.dataDirectory = dataDirectory
        self.indexer = ChainIndexer(database: database, dataDirectory: dataDirectory, horizonSeconds: settings.horizonSeconds)
        indexing = LowPriorityThread(name: "auditseal-index")
        self.append = append
        self.logger = logger
    }

    deinit { indexing.close() }

    /// Brings the index to the chain's head, on `indexing`; a cancellation stops it between segments.
    @discardableResult
    public func catchUpIndex(now: Date = Date()) async throws -> ChainIndexer.Progress {
        let cancelled = Locked(false)
        return try await withTaskCancellationHandler {
            try await indexing.run { try self.indexer.catchUp(now: now, cancelled: { cancelled.withLock { $0 } }) }
        } onCancel: {
            cancelled.withLock { $0 = true }
        }
    }

    /// One reconciliation pass over every log file.
    public func pass(now: Date = Date()) async throws -> PassResult {
        var total = PassResult()
        total.indexed = try await catchUpIndex(now: now).indexed
        let (files, missing) = fingerprints.withLock { AuditLogFiles.discover(settings.logPaths, cache: &$0) }
        let lastPass = self.lastPass.withLock { $0 }
        for path in missing {
            try database.recordGap(source: "log", from: lastPass ?? now, to: now, reason: "no log file at \(path)")
            logger.warning("reconcile: no log file at \(path): events the webhook dropped cannot be backfilled for this window")
        }
        try forgetVanished(files, now: now)
        let cutoff = Int64(now.timeIntervalSince1970 - settings.settleSeconds)
        let horizon = Int64(now.timeIntervalSince1970 - settings.horizonSeconds)
        for file in files {
            let r = try await reconcile(file, settledBefore: cutoff, horizon: horizon, now: now)
            total.read += r.read
            total.matched += r.matched
            total.backfilled += r.backfilled
            total.mismatched += r.mismatched
            total.beyondHorizon += r.beyondHorizon
            total.unreadable += r.unreadable
        }
        self.lastPass.withLock { $0 = now }
        try database.writeReport(dataDirectory: dataDirectory, now: now)
        return total
    }

    /// A file known from an earlier pass that is gone before it was read to its end: its unread
    /// lines are a window nothing can reconcile any more.
    private func forgetVanished(_ files: [AuditLogFile], now: Date) throws {
        for (path, lines) in try database.forgetVanished(present: Set(files.map(\.fingerprint)), since: lastPass.withLock { $0 } ?? now, now: now) {
            logger.warning("reconcile: log file \(path) vanished before it was read past line \(lines)")
        }
    }

    private func reconcile(_ file: AuditLogFile, settledBefore cutoff: Int64, horizon: Int64, now: Date) async throws -> PassResult {
        var (offset, lineNumber, complete) = try database.position(of: file)
        var result = PassResult()
        guard !complete else { return result }
        // A rotated gzip file is decompressed as it is read, a chunk at a time (never whole); a plain one is read in chunks.
        let compressed: LogFileReader? = file.compressed ? try LogFileReader(path: file.path) : nil
        var limit = settings.chunkBytes
        while true {
            try Task.checkCancellation()  // between chunks: the position of every chunk before is saved
            let data: [UInt8]
            if let compressed {
                data = try compressed.read(from: offset, limit: limit)
            } else {
                data = try AuditLogFiles.read(file, from: offset, limit: limit)
            }
            // Complete lines only: the live file's last line may still be being written.
            guard let lastNewline = data.lastIndex(of: 0x0a) else {
                if data.count == limit && limit < 1 << 30 {
                    limit *= 2  // one line longer than a chunk
                    continue
                }
                if data.isEmpty && !file.isLive { complete = true; try savePosition(file, offset: offset, lines: lineNumber, complete: true) }
                if !data.isEmpty && file.compressed {
                    // A compressed file's last line without a newline is all there will ever be.
                    result.unreadable += 1
                    try savePosition(file, offset: offset + UInt64(data.count), lines: lineNumber + 1, complete: true, unreadable: 1)
                }
                break
            }
            limit = settings.chunkBytes
            let chunk = Array(data[...lastNewline])
            let (r, consumed, lines, settled) = try await reconcileChunk(chunk, file: file, firstLine: lineNumber + 1, settledBefore: cutoff, horizon: horizon, now: now)
            result.read += r.read; result.matched += r.matched; result.backfilled += r.backfilled
            result.mismatched += r.mismatched; result.beyondHorizon += r.beyondHorizon; result.unreadable += r.unreadable
            offset += UInt64(consumed)
            lineNumber += lines
            observe?(r)
            if !settled || consumed == 0 { break }
        }
        if result.backfilled > 0 {
            logger.notice("reconcile: backfilled \(result.backfilled) events from \(file.path) (read through line \(lineNumber))")
        }
        return result
    }

    private func savePosition(_ file: AuditLogFile, offset: UInt64, lines: UInt64, complete: Bool, unreadable: Int64 = 0) throws {
        try database.setPosition(of: file, offset: offset, lines: lines, complete: complete, unreadable: unreadable)
    }

    /// Reconciles the complete lines of one chunk up to the first one not yet settled; returns what
    /// it found, the bytes and lines consumed, and whether it got through the whole chunk.
    private func reconcileChunk(_ chunk: [UInt8], file: AuditLogFile, firstLine: UInt64, settledBefore cutoff: Int64, horizon: Int64, now: Date)
        async throws -> (PassResult, Int, UInt64, Bool) {
        let sha = SHA256()
        // Line boundaries.
        var lineRanges = [Range<Int>]()
        var start = 0
        for i in 0..<chunk.count where chunk[i] == 0x0a {
            lineRanges.append(start..<i)
            start = i + 1
        }
        // Scan the chunk at once; when some line is not an event, scan the good lines again without it.
        var usable = lineRanges.indices.filter { !lineRanges[$0].isEmpty }
        var unreadableLines = [Int]()
        var batch: EventBatch
        do {
            batch = try EventScanner(mode: .stream).scan(chunk)
            if batch.count != usable.count { throw AuditSealError(.storage, "\(file.path): \(batch.count) events on \(usable.count) lines") }
        } catch {
            var good = [Int]()
            for i in usable {
                if (try? EventScanner(mode: .stream).scan(Array(chunk[lineRanges[i]])))?.count == 1 { good.append(i) } else { unreadableLines.append(i) }
            }
            usable = good
            var joined = [UInt8]()
            for i in good { joined += chunk[lineRanges[i]]; joined.append(0x0a) }
            batch = try EventScanner(mode: .stream).scan(joined)
        }
        // Keys, up to the first event that has not settled.
        var keys = [EventKey]()
        var settledCount = batch.count
        for i in 0..<batch.count {
            let key = EventKey(auditID: batch.auditID(i), stage: batch.stage(i), stageTimestamp: batch.stageTimestamp(i), using: sha)
            if key.second > cutoff { settledCount = i; break }
            keys.append(key)
        }
        let allSettled = settledCount == batch.count
        // Bytes and lines consumed: through the last settled event's line (and unreadable lines before the stop).
        let stopLine = allSettled ? lineRanges.count : usable[settledCount]
        let consumedBytes = stopLine == lineRanges.count ? chunk.count : lineRanges[stopLine].lowerBound
        let unreadableCounted = unreadableLines.filter { $0 < stopLine }
        for i in unreadableCounted {
            logger.warning("reconcile: \(file.path):\(firstLine + UInt64(i)) is not an audit event; skipped")
        }

        // Look the settled events up.
        let found = try database.lookup(keys)
        var result = PassResult()
        result.read = settledCount
        result.unreadable = unreadableCounted.count
        var missing = [Int]()
        var mismatches = [CompletenessReport.CopyMismatch]()
        let stamp = Timestamp.format(now)
        for i in 0..<settledCount {
            if let (index, leaf) = found[i] {
                let hint = batch.line(i).withUnsafeBytes { Array(MerkleHash.leaf($0, using: sha).bytes.prefix(8)) }
                if hint == leaf {
                    result.matched += 1
                } else if let redactionChanges, redactionChanges(batch.line(i)) {
                    result.matched += 1
                    logger.debug("reconcile: stored event \(index) is present; redaction changed its copy, so it is matched by (auditID, stage) only")
                } else {
                    result.mismatched += 1
                    let m = CompletenessReport.CopyMismatch(auditID: batch.auditID(i), stage: batch.stage(i), eventIndex: UInt64(index),
                                                            file: file.path, line: firstLine + UInt64(usable[i]), foundAt: stamp)
                    mismatches.append(m)
                    logger.error("reconcile: the stored event \(index) (auditID \(m.auditID), stage \(m.stage)) differs from \(m.file):\(m.line)")
                }
            } else if keys[i].second < horizon && keys[i].second > 0 {
                result.beyondHorizon += 1
            } else {
                missing.append(i)
            }
        }
        if !missing.isEmpty {
            var fill = batch.selecting(missing)
            fill.backfilled = true
            var done = 0
            while done < fill.count {
                let end = min(fill.count, done + 1000)
                let appended = try await append(fill.slice(done..<end))
                result.backfilled += appended.stored
                // Delivered by the webhook between the index's catch-up and this append: present.
                result.matched += appended.duplicates
                done = end
            }
            logger.debug("reconcile: backfilled \(result.backfilled) events from \(file.path) (lines \(firstLine)...\(firstLine + UInt64(stopLine) - 1))")
        }
        let lines = UInt64(stopLine)
        let through = settledCount > 0 ? batch.stageTimestamp(settledCount - 1) : nil
        try database.advance(file, bytes: consumedBytes, lines: lines, counted: result, mismatches: mismatches, reconciledThrough: through)
        return (result, consumedBytes, lines, allSettled)
    }
}
