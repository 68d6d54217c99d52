#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One audit event found by the scanner: where its stored line is, and the few fields auditseal
/// indexes, as spans of the scanned input (decoded only when asked for).
public struct ScannedEvent: Sendable {
    /// The stored line's range in `EventBatch.lines` (without the newline).
    public var line: Range<Int>
    var auditID = ByteSpan.none
    var stage = ByteSpan.none
    var stageTimestamp = ByteSpan.none
    var verb = ByteSpan.none
    var username = ByteSpan.none
    var userAgent = ByteSpan.none
    var resource = ByteSpan.none
    var namespace = ByteSpan.none
    var name = ByteSpan.none
    var subresource = ByteSpan.none
    var apiGroup = ByteSpan.none
    /// `responseStatus.code`, or nil when absent.
    public var responseCode: Int?
    // Layout facts the line builder needs.
    var hasKind = false
    var hasAPIVersion = false
    /// An auditID / stage member was seen (even one that is not a string): a second one is refused.
    var sawAuditID = false
    var sawStage = false
    var needsMinify = false
    var itemRange: Range<Int> = 0..<0

    init() { line = 0..<0 }
}

/// The events of one scanned input: their stored lines, concatenated in one buffer, and their fields.
public struct EventBatch: Sendable {
    /// The bytes that were scanned; field spans point into it.
    public let source: EventBytes
    /// Every stored line back to back (no separators); `ScannedEvent.line` ranges index it.
    public internal(set) var lines: EventBytes
    /// The events in input order.
    public internal(set) var events: [ScannedEvent]
    /// The events come from reconciliation (the API server's log file), not from the webhook: their
    /// write-ahead records and their segment's manifest mark them as backfilled.
    public var backfilled = false

    /// How many events the batch holds.
    public var count: Int { events.count }

    /// The stored line of event i.
    public func line(_ i: Int) -> [UInt8] { lines[events[i].line] }

    /// Decoded field values of event i.
    public func fields(_ i: Int) -> EventFields {
        let e = events[i]
        return EventFields(
            auditID: string(e.auditID) ?? "", stage: string(e.stage) ?? "",
            stageTimestamp: string(e.stageTimestamp), verb: string(e.verb), username: string(e.username),
            userAgent: string(e.userAgent), resource: string(e.resource), namespace: string(e.namespace),
            name: string(e.name), subresource: string(e.subresource), apiGroup: string(e.apiGroup),
            responseCode: e.responseCode)
    }

    /// auditID of event i.
    public func auditID(_ i: Int) -> String { string(events[i].auditID) ?? "" }
    /// stage of event i.
    public func stage(_ i: Int) -> String { string(events[i].stage) ?? "" }
    /// stageTimestamp of event i, if present.
    public func stageTimestamp(_ i: Int) -> String? { string(events[i].stageTimestamp) }

    /// The indexed fields a caller may test without decoding them.
    public enum Field: Sendable { case resource, subresource, verb }

    /// Whether event i's field is exactly `value` (no allocation; an escaped value never matches).
    public func field(_ i: Int, _ field: Field, is value: [UInt8]) -> Bool {
        let e = events[i]
        let span: ByteSpan
        switch field {
        case .resource: span = e.resource
        case .subresource: span = e.subresource
        case .verb: span = e.verb
        }
        guard span.isPresent, !span.escaped, span.count == value.count else { return false }
        return source.withUnsafeBytes { raw in
            value.withUnsafeBytes { v in memcmp(raw.baseAddress! + span.start, v.baseAddress!, value.count) == 0 }
        }
    }

    func string(_ span: ByteSpan) -> String? {
        guard span.isPresent else { return nil }
        let raw = source[span.start..<(span.start + span.count)][...]
        return span.escaped ? JSONString.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }
}

/// The indexed fields of one event, decoded.
public struct EventFields: Sendable, Equatable, Codable {
    public var auditID: String
    public var stage: String
    public var stageTimestamp: String?
    public var verb: String?
    public var username: String?
    public var userAgent: String?
    public var resource: String?
    public var namespace: String?
    public var name: String?
    public var subresource: String?
    public var apiGroup: String?
    public var responseCode: Int?

    public init(auditID: String, stage: String, stageTimestamp: String?, verb: String?, username: String?,
                userAgent: String?, resource: String?, namespace: String?, name: String?, subresource: String?,
                apiGroup: String?, responseCode: Int?) {
        self.auditID = auditID
        self.stage = stage
        self.stageTimestamp = stageTimestamp
        self.verb = verb
        self.username = username
        self.userAgent = userAgent
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource
        self.apiGroup = apiGroup
        self.responseCode = responseCode
    }
}

/// JSON string escaping helpers.
public enum JSONString {
    /// Decodes the raw contents of a valid JSON string.
    public static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        var pendingHigh: UInt32?
        func appendScalar(_ v: UInt32) {
            let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
        }
        while i < raw.endIndex {
            let c = raw[i]
            if c != 0x5c { out.append(c); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0c)
            case 0x6e: out.append(0x0a)
            case 0x72: out.append(0x0d)
            case 0x74: out.append(0x09)
            case 0x75:
                let hex = String(decoding: raw[i..<(i + 4)], as: UTF8.self)
                i += 4
                let v = UInt32(hex, radix: 16) ?? 0xFFFD
                if v >= 0xD800 && v < 0xDC00 { pendingHigh = v; continue }
                if v >= 0xDC00 && v < 0xE000, let high = pendingHigh {
                    appendScalar(0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00))
                    pendingHigh = nil
                    continue
                }
                appendScalar(v)
            default: out.append(e)
            }
            pendingHigh = nil
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Escapes a string for inclusion in JSON output (quotes included).
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
