import AuditSealCore
import FoundationEssentials

/// The API server's own account of the audit events it produced and dropped, from its /metrics
/// (k8s.io/apiserver/pkg/audit/metrics.go): `apiserver_audit_event_total` counts events generated
/// and sent to the backends; `apiserver_audit_error_total{plugin}` counts events a backend failed
/// to deliver — "buffered" for the webhook buffer's overflow, "webhook" for batches that failed
/// every retry, "truncate" for events too large to truncate. `process_start_time_seconds`
/// tells a restarted API server (whose counters begin at zero again) from a running one.
public struct SourceCounters: Sendable, Equatable, Codable {
    public var events: UInt64 = 0
    /// Errors by plugin.
    public var errors: [String: UInt64] = [:]
    public var processStart: Double?

    public init(events: UInt64 = 0, errors: [String: UInt64] = [:], processStart: Double? = nil) {
        self.events = events
        self.errors = errors
        self.processStart = processStart
    }

    /// Reads the counters from a Prometheus text exposition (format 0.0.4; OpenMetrics' `_total`
    /// samples read the same way).
    public init(prometheusText text: String) {
        for raw in text.split(separator: "\n") {
            let line = raw.trimmed
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            let name: Substring
            var labels = Substring("")
            var rest: Substring
            if let brace = line.firstIndex(of: "{"), let close = line[brace...].firstIndex(of: "}") {
                name = line[..<brace]
                labels = line[line.index(after: brace)..<close]
                rest = line[line.index(after: close)...]
            } else {
                guard let space = line.firstIndex(of: " ") else { continue }
                name = line[..<space]
                rest = line[space...]
            }
            rest = rest.drop { $0 == " " }
            let valueText = rest.split(separator: " ").first.map(String.init) ?? ""
            guard let value = Double(valueText), value.isFinite, value >= 0 else { continue }
            // A counter beyond UInt64 is not a count (the fuzzer's find: it trapped here); sums of
            // several series saturate rather than trap.
            let count = UInt64(exactly: value.rounded(.down))
            switch name {
            case "apiserver_audit_event_total":
                guard let count else { continue }
                events = Self.saturatingSum(events, count)
            case "apiserver_audit_error_total":
                guard let count else { continue }
                let plugin = Self.label("plugin", in: labels) ?? "unknown"
                errors[plugin] = Self.saturatingSum(errors[plugin] ?? 0, count)
            case "process_start_time_seconds":
                processStart = value
            default:
                continue
            }
        }
    }

    static func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    static func label(_ key: String, in labels: Substring) -> String? {
        // key="value" pairs; label values here are plain plugin names.
        for pair in labels.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmed == key else { continue }
            return parts[1].trimmed.trimmed(where: { $0 == "\"" })
        }
        return nil
    }

    /// What happened between two scrapes of one API server: counter increases, with a restart
    /// (start time changed, or a counter went down) taken as counters beginning again at zero.
    public struct Change: Sendable, Equatable {
        public var events: UInt64
        public var dropped: [String: UInt64]
        public var restarted: Bool
    }

    public func change(since previous: SourceCounters) -> Change {
        let restarted = (processStart != nil && previous.processStart != nil && processStart != previous.processStart)
            || events < previous.events || errors.contains { $0.value < previous.errors[$0.key, default: 0] }
        var dropped = [String: UInt64]()
        for (plugin, value) in errors {
            let delta = restarted ? value : value - previous.errors[plugin, default: 0]
            if delta > 0 { dropped[plugin] = delta }
        }
        return Change(events: restarted ? events : events - previous.events, dropped: dropped, restarted: restarted)
    }
}

extension ReconcileDatabase {
    /// The last scrape of a server (counters and when), if any.
    func lastScrape(server: String) throws -> (SourceCounters, Date)? {
        try queue.read { db in
            guard let row = try db.fetchOne(sql: "SELECT counters, at FROM scrapes WHERE server = ?", arguments: [server]),
                  let text: String = row["counters"], let at: String = row["at"], let date = Timestamp.parse(at) else { return nil }
            return (try StableJSON.decode(SourceCounters.self, from: Array(text.utf8)), date)
        }
    }

    /// Records a scrape: its counters, and each drop increase with its window.
    func recordScrape(server: String, counters: SourceCounters, at now: Date, drops: [String: UInt64], since: Date?, gap: String?) throws {
        try queue.write { db in
            let text = String(decoding: try StableJSON.encode(counters), as: UTF8.self)
            try db.execute(sql: "INSERT INTO scrapes(server, startTime, at, counters) VALUES (?, ?, ?, ?) ON CONFLICT(server) DO UPDATE SET startTime = excluded.startTime, at = excluded.at, counters = excluded.counters",
                           arguments: [server, counters.processStart, Timestamp.format(now), text])
            for (plugin, events) in drops.sorted(by: { $0.key < $1.key }) {
                try db.execute(sql: "INSERT INTO drops(server, plugin, events, fromTime, toTime) VALUES (?, ?, ?, ?, ?)",
                               arguments: [server, plugin, Int64(clamping: events), Timestamp.format(since ?? now), Timestamp.format(now)])
            }
            if let gap {
                try db.execute(sql: "INSERT INTO gaps(source, fromTime, toTime, reason) VALUES ('metrics', ?, ?, ?)",
                               arguments: [Timestamp.format(since ?? now), Timestamp.format(now), gap])
            }
        }
    }
}
