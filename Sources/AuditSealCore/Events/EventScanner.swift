/// Splits audit input into events in one pass, without building an object tree.
///
/// Two input shapes are understood:
/// - `.eventList`: exactly one `audit.k8s.io/v1` (or `v1beta1`) `EventList`, as the API server's
///   webhook backend POSTs it.
/// - `.stream`: any sequence of JSON objects separated by whitespace, each an `Event` or an
///   `EventList` — which covers the API server's `--audit-log-path` files (JSON lines) and
///   single-event files.
///
/// Each event's stored line is derived as docs/FORMAT.md ("Stored lines") specifies: for an item of
/// an `EventList`, `"kind":"Event"` and `"apiVersion":<the list's>` are put first when the item lacks
/// them; whitespace outside strings is removed only when present; every other byte is kept.
public struct EventScanner: Sendable {
    /// The input shape.
    public enum Mode: Sendable { case eventList, stream }

    /// API versions accepted for an EventList or Event.
    public static let acceptedAPIVersions: Set<String> = ["audit.k8s.io/v1", "audit.k8s.io/v1beta1"]

    public let mode: Mode

    public init(mode: Mode) { self.mode = mode }

    /// Scans input; throws a `.malformedInput` error naming the byte offset and reason.
    public func scan(_ input: [UInt8]) throws -> EventBatch {
        try scan(EventBytes(input))
    }

    /// Scans input of any storage. The stored lines go to `lineSpool` when one is given (for a
    /// spooled body: they are about as large as the input) and are kept in memory otherwise.
    /// More than `maxEvents` events is a `.tooLarge` error, which bounds the memory the event index takes.
    public func scan(_ input: EventBytes, maxEvents: Int = .max, lineSpool: SpoolFile? = nil) throws -> EventBatch {
        guard input.count < Int(Int32.max) else { throw AuditSealError(.tooLarge, "input of \(input.count) bytes is over the 2 GiB limit") }
        var events = [ScannedEvent]()
        events.reserveCapacity(min(input.count / 1024 + 4, maxEvents))
        var listVersions = [(range: Range<Int>, apiVersion: String?)]()
        try input.withUnsafeBytes { raw in
            var cursor = JSONCursor(raw.assumingMemoryBound(to: UInt8.self))
            var documents = 0
            while true {
                cursor.skipWhitespace()
                if cursor.atEnd { break }
                if mode == .eventList && documents == 1 {
                    throw cursor.error("unexpected data after the EventList")
                }
                guard cursor.base[cursor.pos] == 0x7b else {
                    throw cursor.error("expected a JSON object, found \(cursor.describe(cursor.base[cursor.pos]))")
                }
                try scanDocument(&cursor, into: &events, limit: maxEvents, lists: &listVersions, releasing: input)
                documents += 1
            }
            if documents == 0 { throw cursor.error(mode == .eventList ? "empty body, expected an EventList" : "no events in input") }
        }
        return try buildLines(input, events: events, lists: listVersions, spool: lineSpool)
    }

    /// Scans one top-level object, which is an EventList (its items become events) or an Event.
    private func scanDocument(_ cursor: inout JSONCursor, into events: inout [ScannedEvent], limit: Int,
                              lists: inout [(range: Range<Int>, apiVersion: String?)], releasing input: EventBytes) throws {
        let start = cursor.pos
        var top = ScannedEvent()
        var kind = ByteSpan.none
        var apiVersion = ByteSpan.none
        var itemsFound = false
        let firstItem = events.count
        cursor.sawWhitespace = false
        try cursor.forEachMember(depth: 0) { c, key in
            if c.spanEquals(key, "items") {
                itemsFound = true
                guard c.peek() == 0x5b else {
                    if c.peek() == 0x6e { try c.scanLiteral("null"); return }
                    throw c.error("\"items\" must be an array")
                }
                try c.forEachElement(depth: 1) { c, index in
                    guard c.peek() == 0x7b else { throw c.error("item \(index) is not a JSON object") }
                    let itemStart = c.pos
                    c.sawWhitespace = false
                    var item = ScannedEvent()
                    try scanEventMembers(&c, into: &item, depth: 2)
                    item.itemRange = itemStart..<c.pos
                    item.needsMinify = c.sawWhitespace
                    try requireIdentity(item, c, what: "item \(index)", at: itemStart)
                    try Self.checkRoom(events.count, limit, c)
                    events.append(item)
                    input.releasePages(before: itemStart)  // a mapped input stays out of RSS behind the scan
                }
                return
            }
            if c.spanEquals(key, "kind") {
                guard !top.hasKind else { throw c.error("duplicate \"kind\" member (parsers disagree on which one wins)", at: key.start - 1) }
                kind = try c.stringOrSkip(depth: 1); top.hasKind = true; return
            }
            if c.spanEquals(key, "apiVersion") {
                guard !top.hasAPIVersion else { throw c.error("duplicate \"apiVersion\" member (parsers disagree on which one wins)", at: key.start - 1) }
                apiVersion = try c.stringOrSkip(depth: 1); top.hasAPIVersion = true; return
            }
            try scanEventMember(&c, key: key, into: &top, depth: 1)
        }
        top.itemRange = start..<cursor.pos
        top.needsMinify = cursor.sawWhitespace
        let kindValue = kind.isPresent ? String(decoding: UnsafeBufferPointer(start: cursor.base + kind.start, count: kind.count), as: UTF8.self) : nil
        let versionValue = apiVersion.isPresent ? String(decoding: UnsafeBufferPointer(start: cursor.base + apiVersion.start, count: apiVersion.count), as: UTF8.self) : nil
        if top.hasKind && !kind.isPresent { throw cursor.error("\"kind\" must be a string", at: start) }
        if let versionValue, !EventScanner.acceptedAPIVersions.contains(versionValue) {
            throw cursor.error("unsupported apiVersion \"\(versionValue)\" (expected audit.k8s.io/v1 or audit.k8s.io/v1beta1)", at: start)
        }
        if kindValue == "EventList" || (kindValue == nil && itemsFound) {
            guard kindValue != nil else { throw cursor.error("missing \"kind\":\"EventList\"", at: start) }
            guard versionValue != nil else { throw cursor.error("EventList without apiVersion", at: start) }
            lists.append((firstItem..<events.count, versionValue))
            return
        }
        guard mode == .stream else {
            throw cursor.error("expected kind \"EventList\", found \(kindValue.map { "\"\($0)\"" } ?? "no kind")", at: start)
        }
        guard kindValue == nil || kindValue == "Event" else {
            throw cursor.error("expected kind \"Event\" or \"EventList\", found \"\(kindValue!)\"", at: start)
        }
        guard !itemsFound else { throw cursor.error("an Event must not have \"items\"", at: start) }
        try requireIdentity(top, cursor, what: "event", at: start)
        try Self.checkRoom(events.count, limit, cursor)
        events.append(top)
    }

    private static func checkRoom(_ count: Int, _ limit: Int, _ cursor: JSONCursor) throws {
        guard count < limit else {
            throw AuditSealError(.tooLarge, "byte \(cursor.pos): more than \(limit) events in one input")
        }
    }

    private func requireIdentity(_ event: ScannedEvent, _ cursor: JSONCursor, what: String, at offset: Int) throws {
        guard event.auditID.isPresent, event.auditID.count > 0 else { throw cursor.error("\(what) has no auditID string", at: offset) }
        guard event.stage.isPresent, event.stage.count > 0 else { throw cursor.error("\(what) has no stage string", at: offset) }
    }

    /// Scans an event object at `{`, capturing the indexed fields.
    private func scanEventMembers(_ cursor: inout JSONCursor, into event: inout ScannedEvent, depth: Int) throws {
        try cursor.forEachMember(depth: depth) { c, key in
            if c.spanEquals(key, "kind") {
                guard !event.hasKind else { throw c.error("duplicate \"kind\" member in an event (parsers disagree on which one wins)", at: key.start - 1) }
                event.hasKind = true
                let kind = try c.stringOrSkip(depth: depth)
                guard kind.isPresent, c.spanEquals(kind, "Event") else { throw c.error("an item's kind must be \"Event\"", at: key.start - 1) }
                return
            }
            if c.spanEquals(key, "apiVersion") {
                guard !event.hasAPIVersion else { throw c.error("duplicate \"apiVersion\" member in an event (parsers disagree on which one wins)", at: key.start - 1) }
                event.hasAPIVersion = true
                try c.skipValue(depth: depth)
                return
            }
            try scanEventMember(&c, key: key, into: &event, depth: depth)
        }
    }

    @inline(__always)
    private func scanEventMember(_ c: inout JSONCursor, key: ByteSpan, into event: inout ScannedEvent, depth: Int) throws {
        switch key.count {
        case 4:
            if c.spanEquals(key, "verb") { event.verb = try c.stringOrSkip(depth: depth); return }
            if c.spanEquals(key, "user") {
                guard c.peek() == 0x7b else { try c.skipValue(depth: depth); return }
                try c.forEachMember(depth: depth + 1) { c, k in
                    if c.spanEquals(k, "username") { event.username = try c.stringOrSkip(depth: depth + 1) } else { try c.skipValue(depth: depth + 1) }
                }
                return
            }
        case 5:
            if c.spanEquals(key, "stage") {
                guard !event.stage.isPresent && !event.sawStage else { throw c.error("duplicate \"stage\" member in an event (parsers disagree on which one wins)", at: key.start - 1) }
                event.sawStage = true
                event.stage = try c.stringOrSkip(depth: depth)
                return
            }
        case 7:
            if c.spanEquals(key, "auditID") {
                guard !event.auditID.isPresent && !event.sawAuditID else { throw c.error("duplicate \"auditID\" member in an event (parsers disagree on which one wins, and de-duplication could be steered)", at: key.start - 1) }
                event.sawAuditID = true
                event.auditID = try c.stringOrSkip(depth: depth)
                return
            }
        case 9:
            if c.spanEquals(key, "objectRef") {
                guard c.peek() == 0x7b else { try c.skipValue(depth: depth); return }
                try c.forEachMember(depth: depth + 1) { c, k in
                    let d = depth + 1
                    if c.spanEquals(k, "resource") { event.resource = try c.stringOrSkip(depth: d) }
                    else if c.spanEquals(k, "namespace") { event.namespace = try c.stringOrSkip(depth: d) }
                    else if c.spanEquals(k, "name") { event.name = try c.stringOrSkip(depth: d) }
                    else if c.spanEquals(k, "subresource") { event.subresource = try c.stringOrSkip(depth: d) }
                    else if c.spanEquals(k, "apiGroup") { event.apiGroup = try c.stringOrSkip(depth: d) }
                    else { try c.skipValue(depth: d) }
                }
                return
            }
            if c.spanEquals(key, "userAgent") { event.userAgent = try c.stringOrSkip(depth: depth); return }
        case 14:
            if c.spanEquals(key, "stageTimestamp") { event.stageTimestamp = try c.stringOrSkip(depth: depth); return }
            if c.spanEquals(key, "responseStatus") {
                guard c.peek() == 0x7b else { try c.skipValue(depth: depth); return }
                try c.forEachMember(depth: depth + 1) { c, k in
                    if c.spanEquals(k, "code"), let p = c.peek(), p == 0x2d || (p >= 0x30 && p <= 0x39) {
                        let n = try c.scanNumber()
                        event.responseCode = Int(String(decoding: UnsafeBufferPointer(start: c.base + n.start, count: n.count), as: UTF8.self))
                    } else {
                        try c.skipValue(depth: depth + 1)
                    }
                }
                return
            }
        default:
            break
        }
        try c.skipValue(depth: depth)
    }

    /// Builds the stored lines, back to back, in memory or in the spool file.
    private func buildLines(_ input: EventBytes, events: consuming [ScannedEvent],
                            lists: [(range: Range<Int>, apiVersion: String?)], spool: SpoolFile?) throws -> EventBatch {
        var out = LineWriter(spool: spool, expected: input.count + events.count * 48)
        let kindMember = Array(#""kind":"Event","#.utf8)
        // The apiVersion member of each list, built once per list.
        let versionMembers = lists.map { list in
            list.apiVersion.map { Array(#""apiVersion":"#.utf8) + Array(JSONString.quoted($0).utf8) + [UInt8(ascii: ",")] } ?? []
        }
        var listIndex = 0
        try input.withUnsafeBytes { raw in
            let src = raw.assumingMemoryBound(to: UInt8.self)
            for i in events.indices {
                while listIndex < lists.count && lists[listIndex].range.upperBound <= i { listIndex += 1 }
                let inList = listIndex < lists.count && lists[listIndex].range.contains(i)
                let item = events[i].itemRange
                let lineStart = out.position
                let addKind = inList && !events[i].hasKind
                let addVersion = inList && !events[i].hasAPIVersion && !versionMembers[listIndex].isEmpty
                if !addKind && !addVersion && !events[i].needsMinify {
                    out.buffer.append(contentsOf: UnsafeBufferPointer(rebasing: src[item]))
                } else {
                    out.buffer.append(UInt8(ascii: "{"))
                    if addKind { out.buffer.append(contentsOf: kindMember) }
                    if addVersion { out.buffer.append(contentsOf: versionMembers[listIndex]) }
                    let body = UnsafeBufferPointer(rebasing: src[(item.lowerBound + 1)..<item.upperBound])
                    let bodyStart = out.buffer.count
                    if events[i].needsMinify { Minifier.append(body, to: &out.buffer) } else { out.buffer.append(contentsOf: body) }
                    // An empty item: drop the comma before its closing brace.
                    if out.buffer.count - bodyStart == 1 && (addKind || addVersion) { out.buffer.remove(at: bodyStart - 1) }
                }
                events[i].line = lineStart..<out.position
                try out.endLine()
                input.releasePages(before: item.lowerBound)
            }
        }
        return EventBatch(source: input, lines: try out.finish(), events: events)
    }
}

/// Collects stored lines in a buffer; with a spool file, the buffer is written out between lines
/// whenever it passes 1 MiB, so memory stays bounded by the largest line.
private struct LineWriter {
    var buffer = [UInt8]()
    private var flushed = 0
    private let spool: SpoolFile?

    init(spool: SpoolFile?, expected: Int) {
        self.spool = spool
        buffer.reserveCapacity(spool == nil ? expected : 1 << 21)
    }

    /// Offset of the next byte in the whole of the lines.
    var position: Int { flushed + buffer.count }

    mutating func endLine() throws {
        guard let spool, buffer.count >= 1 << 20 else { return }
        try buffer.withUnsafeBytes { try spool.append($0) }
        flushed += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    mutating func finish() throws -> EventBytes {
        guard let spool else { return EventBytes(buffer) }
        try buffer.withUnsafeBytes { try spool.append($0) }
        return try spool.map()
    }
}

/// Removes insignificant whitespace (outside strings) from valid JSON.
enum Minifier {
    static func append(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var inString = false
        var escape = false
        for c in bytes {
            if inString {
                out.append(c)
                if escape { escape = false } else if c == 0x5c { escape = true } else if c == 0x22 { inString = false }
            } else if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 {
                continue
            } else {
                out.append(c)
                if c == 0x22 { inString = true }
            }
        }
    }
}
