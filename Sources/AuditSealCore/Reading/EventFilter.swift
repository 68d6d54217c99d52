import FoundationEssentials

/// `cat`'s filters; every one given must match (they combine with AND, values of one with OR).
public struct EventFilter: Sendable {
    public var since: Date?
    public var until: Date?
    public var users: [String] = []
    public var groups: [String] = []
    public var verbs: [String] = []
    public var namespaces: [String] = []
    /// "pods", "pods/exec", or "deployments.apps".
    public var resources: [String] = []
    public var names: [String] = []
    public var auditIDs: [String] = []
    /// Substrings of the user agent.
    public var userAgents: [String] = []
    public var kubectl = false
    /// Codes ("403") or classes ("4xx").
    public var statuses: [String] = []
    public var stages: [String] = []
    public var levels: [String] = []

    public init() {}

    /// Parses an RFC 3339 time, or a duration before `now` like "90s", "15m", "2h", "7d".
    public static func time(_ text: String, now: Date = Date()) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        guard let unit = text.last, let value = Double(text.dropLast()), value >= 0 else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = value
        case "m": seconds = value * 60
        case "h": seconds = value * 3600
        case "d": seconds = value * 86_400
        default: return nil
        }
        return now.addingTimeInterval(-seconds)
    }

    /// Whether a segment can hold a matching event, by the event times its manifest states:
    /// `minEventTime`/`maxEventTime` when present (exact); else, for segments sealed before those
    /// fields existed, its first and last events' times with `slack` seconds either side (events
    /// are stored in arrival order, which differs from time order by the API server's batching).
    public func mayMatch(_ m: Manifest, slack: Double = 300) -> Bool {
        let (lo, hi, pad) = m.minEventTime != nil && m.maxEventTime != nil ? (m.minEventTime, m.maxEventTime, 0.0) : (m.firstEventTime, m.lastEventTime, slack)
        if let since, let l = hi.flatMap(Timestamp.parse), l.addingTimeInterval(pad) < since { return false }
        if let until, let f = lo.flatMap(Timestamp.parse), f.addingTimeInterval(-pad) > until { return false }
        return true
    }

    /// Whether only the time window is asked for: then the raw line decides (no JSON parse).
    public var timeOnly: Bool {
        users.isEmpty && groups.isEmpty && verbs.isEmpty && namespaces.isEmpty && resources.isEmpty && names.isEmpty
            && auditIDs.isEmpty && userAgents.isEmpty && !kubectl && statuses.isEmpty && stages.isEmpty && levels.isEmpty
    }

    /// The time window on the raw line, by its `stageTimestamp` member (found by a byte search,
    /// compared as text when it has the API server's form, else parsed). Lines without one fail a
    /// window. True when no window is asked for.
    public func inWindow(line: UnsafeRawBufferPointer) -> Bool {
        guard since != nil || until != nil else { return true }
        guard let t = EventTimeRange.stageTimestamp(line) else { return false }
        if t.count == 27, t.hasSuffix("Z") {
            if let s = sinceText, t < s { return false }
            if let u = untilText, t > u { return false }
            return true
        }
        guard let date = Timestamp.parse(t) else { return false }
        if let since, date < since { return false }
        if let until, date > until { return false }
        return true
    }

    /// The window's ends in the API server's form (microseconds, UTC): comparable as text.
    private var sinceText: String? { since.map(Timestamp.format) }
    private var untilText: String? { until.map(Timestamp.format) }

    /// Cheap test on the raw line: every exact-value filter's value must appear in it.
    public func mayMatch(line: UnsafeRawBufferPointer) -> Bool {
        for values in [users, namespaces, names, auditIDs] where !values.isEmpty {
            if !values.contains(where: { Self.contains(line, $0) }) { return false }
        }
        return true
    }

    static func contains(_ hay: UnsafeRawBufferPointer, _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard !n.isEmpty else { return true }
        guard hay.count >= n.count else { return false }
        let first = n[0]
        var i = 0
        let last = hay.count - n.count
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < n.count && hay[i + j] == n[j] { j += 1 }
                if j == n.count { return true }
            }
            i += 1
        }
        return false
    }

    /// The full test on a parsed event.
    public func matches(_ e: AuditEvent) -> Bool {
        if since != nil || until != nil {
            guard let t = Timestamp.parse(e.stageTimestamp) else { return false }
            if let since, t < since { return false }
            if let until, t > until { return false }
        }
        // A user or group matches who made the request or whom it impersonated (shown as "alice as bob").
        if !users.isEmpty && !users.contains(e.username) && !(e.impersonatedUsername.map(users.contains) ?? false) { return false }
        if !groups.isEmpty && !groups.contains(where: { e.groups.contains($0) || e.impersonatedGroups.contains($0) }) { return false }
        if !verbs.isEmpty && !verbs.contains(e.verb) { return false }
        if !namespaces.isEmpty && !namespaces.contains(e.namespace) { return false }
        if !resources.isEmpty && !resources.contains(where: { Self.resource($0, matches: e) }) { return false }
        if !names.isEmpty && !names.contains(e.name) { return false }
        if !auditIDs.isEmpty && !auditIDs.contains(e.auditID) { return false }
        if !userAgents.isEmpty && !userAgents.contains(where: { e.userAgent.contains($0) }) { return false }
        if kubectl && !e.isKubectl { return false }
        if !statuses.isEmpty {
            guard let code = e.code else { return false }
            if !statuses.contains(where: { Self.status($0, matches: code) }) { return false }
        }
        if !stages.isEmpty && !stages.contains(e.stage) { return false }
        if !levels.isEmpty && !levels.contains(e.level) { return false }
        return true
    }

    /// "pods" matches pods and its subresources? No: "pods" matches the resource without a
    /// subresource, "pods/exec" that subresource, "pods/*" any; "deployments.apps" also the group.
    static func resource(_ spec: String, matches e: AuditEvent) -> Bool {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        var resource = parts[0]
        if let dot = resource.firstIndex(of: ".") {
            let group = String(resource[resource.index(after: dot)...])
            resource = String(resource[..<dot])
            if group != e.apiGroup { return false }
        }
        guard resource == e.resource else { return false }
        if parts.count == 1 { return e.subresource.isEmpty }
        return parts[1] == "*" ? !e.subresource.isEmpty : parts[1] == e.subresource
    }

    static func status(_ spec: String, matches code: Int) -> Bool {
        if spec.count == 3, spec.hasSuffix("xx"), let d = Int(spec.prefix(1)) { return code / 100 == d }
        return Int(spec) == code
    }
}
