import FoundationEssentials

/// What reconciliation knows about the record's completeness (docs/FORMAT.md §11): what the API
/// server dropped before it reached the receiver, what was backfilled from its log file, where the
/// two copies disagree, and the windows nothing could be checked for. The receiver keeps it in
/// `DATA_DIR/reconcile/report.json` (its own account, not signed: the backfilled events themselves
/// are marked in the signed manifests); `verify`, `status` and `watch` show it.
public struct CompletenessReport: Codable, Sendable, Equatable {
    /// Where the report lives, relative to the data directory (and to the store's prefix in a bucket).
    public static let path = "reconcile/report.json"

    public var updatedAt: String
    /// Log-file events read, and what became of them.
    public var logEventsRead: UInt64 = 0
    /// Already in the chain, byte for byte.
    public var matchedEvents: UInt64 = 0
    /// Appended from the log file (the webhook never delivered them).
    public var backfilledEvents: UInt64 = 0
    /// In the chain, but the stored line differs from the log's line.
    public var mismatchedEvents: UInt64 = 0
    /// Older than the reconciliation horizon: neither looked up nor backfilled.
    public var beyondHorizonEvents: UInt64 = 0
    /// Log lines that are not audit events (torn, not JSON): reported, never stored.
    public var unreadableLines: UInt64 = 0
    /// The latest stageTimestamp reconciled; later events are still settling.
    public var reconciledThrough: String?
    /// Every event index at or above this was not yet in the index when the report was written.
    public var indexedThrough: UInt64 = 0
    /// Recent mismatches (newest last, at most 100).
    public var mismatches: [CopyMismatch] = []
    /// Log files seen and how far each was read.
    public var logFiles: [LogFileProgress] = []
    /// Drops counted by the API servers' own metrics, per server and plugin, with the window in
    /// which each increase happened (newest last, at most 1000).
    public var sourceDrops: [SourceDrop] = []
    /// Totals of `sourceDrops` by plugin, over all time.
    public var sourceDroppedTotal: [String: UInt64] = [:]
    /// Windows for which no reconciliation was possible (no log file, metrics unreachable, a
    /// segment gone before it was indexed): newest last, at most 1000.
    public var gaps: [ReconciliationGap] = []

    public init(updatedAt: String) { self.updatedAt = updatedAt }

    /// Snapshots shipped to the bucket: `reconcile/report-YYYYMMDDTHHMMSSZ.json`, written once each
    /// (Object Lock keeps every one), a new one when the report changes.
    public static func snapshotName(_ at: Date) -> String {
        let stamp = Timestamp.format(at).prefix(19).filter { $0 != "-" && $0 != ":" }
        return "reconcile/report-\(stamp)Z.json"
    }

    public static func isSnapshot(_ relative: String) -> Bool {
        relative.hasPrefix("reconcile/report-") && relative.hasSuffix("Z.json")
    }

    /// The store's latest report: the receiver's `reconcile/report.json`, else the newest snapshot
    /// (a bucket, or the watcher's mirror of one).
    public static func load(from source: StoreSource) -> CompletenessReport? {
        if let bytes = try? source.read(path), let report = try? StableJSON.decode(CompletenessReport.self, from: bytes) { return report }
        guard let newest = ((try? source.list("reconcile")) ?? []).map({ "reconcile/" + $0 }).filter(isSnapshot).max(),
              let bytes = try? source.read(newest) else { return nil }
        return try? StableJSON.decode(CompletenessReport.self, from: bytes)
    }

    /// The report without its `updatedAt`: what a new snapshot must differ in.
    public var content: CompletenessReport {
        var c = self
        c.updatedAt = ""
        return c
    }

    /// One stored line that differs from the log file's line for the same auditID and stage.
    public struct CopyMismatch: Codable, Sendable, Equatable {
        public var auditID: String
        public var stage: String
        /// The stored event's index in the chain.
        public var eventIndex: UInt64
        /// The log file and 1-based line.
        public var file: String
        public var line: UInt64
        public var foundAt: String
        public init(auditID: String, stage: String, eventIndex: UInt64, file: String, line: UInt64, foundAt: String) {
            self.auditID = auditID
            self.stage = stage
            self.eventIndex = eventIndex
            self.file = file
            self.line = line
            self.foundAt = foundAt
        }
    }

    /// How far one log file (by the fingerprint of its first line, so it is followed through
    /// rotation and compression) was read.
    public struct LogFileProgress: Codable, Sendable, Equatable {
        public var path: String
        public var fingerprint: String
        /// Uncompressed bytes and lines read.
        public var offset: UInt64
        public var lines: UInt64
        /// Read to its end after it was rotated: never read again.
        public var complete: Bool
        public init(path: String, fingerprint: String, offset: UInt64, lines: UInt64, complete: Bool) {
            self.path = path
            self.fingerprint = fingerprint
            self.offset = offset
            self.lines = lines
            self.complete = complete
        }
    }

    /// An increase of an API server's `apiserver_audit_error_total{plugin}` between two scrapes.
    public struct SourceDrop: Codable, Sendable, Equatable {
        public var server: String
        public var plugin: String
        public var events: UInt64
        public var from: String
        public var to: String
        public init(server: String, plugin: String, events: UInt64, from: String, to: String) {
            self.server = server
            self.plugin = plugin
            self.events = events
            self.from = from
            self.to = to
        }
    }

    /// A window reconciliation could not cover, and why.
    public struct ReconciliationGap: Codable, Sendable, Equatable {
        /// "metrics" (an API server's counters) or "log" (the log files).
        public var source: String
        public var from: String
        public var to: String
        public var reason: String
        public init(source: String, from: String, to: String, reason: String) {
            self.source = source
            self.from = from
            self.to = to
            self.reason = reason
        }
    }

    /// A few lines for people (status, verify).
    public var summaryLines: [String] {
        var out = ["reconciled through \(reconciledThrough ?? "nothing yet") (report of \(updatedAt))",
                   "log events read \(logEventsRead): \(matchedEvents) matched, \(backfilledEvents) backfilled, \(mismatchedEvents) differ from the stored copy, \(beyondHorizonEvents) beyond the horizon, \(unreadableLines) unreadable lines"]
        let drops = sourceDroppedTotal.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        out.append("dropped at the source (API server metrics): " + (drops.isEmpty ? "none seen" : drops.joined(separator: ", ")))
        out.append("windows not reconciled: \(gaps.count)" + (gaps.last.map { " (latest: \($0.source) \($0.from) to \($0.to): \($0.reason))" } ?? ""))
        return out
    }
}
