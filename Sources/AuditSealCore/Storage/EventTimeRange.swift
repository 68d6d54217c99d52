import FoundationEssentials

/// The earliest and latest `stageTimestamp` of a segment's events (manifest `minEventTime` /
/// `maxEventTime`): events are stored in arrival order, which need not be time order, so readers
/// skip segments by this range, never by the first and last events. The sealer finds each line's
/// `"stageTimestamp":"` member by a byte search (no JSON parse); a line without one is left out.
public struct EventTimeRange: Sendable {
    public private(set) var min: String?
    public private(set) var max: String?
    private var minDate = Date.distantFuture
    private var maxDate = Date.distantPast

    public init() {}

    static let key = Array("\"stageTimestamp\":\"".utf8)

    /// Takes one stored line into account.
    public mutating func add(_ line: UnsafeRawBufferPointer) {
        guard let value = Self.stageTimestamp(line) else { return }
        // The API server writes UTC with microseconds, so equal-length "Z" strings compare as text;
        // anything else is compared as a parsed time.
        if let current = min, value.count == current.count, value.hasSuffix("Z"), current.hasSuffix("Z") {
            if value < current { min = value; minDate = Timestamp.parse(value) ?? minDate }
        } else if let date = Timestamp.parse(value), date < minDate {
            min = value
            minDate = date
        }
        if let current = max, value.count == current.count, value.hasSuffix("Z"), current.hasSuffix("Z") {
            if value > current { max = value; maxDate = Timestamp.parse(value) ?? maxDate }
        } else if let date = Timestamp.parse(value), date > maxDate {
            max = value
            maxDate = date
        }
    }

    /// The value of the line's top-level-looking `"stageTimestamp":"…"` member, if any.
    public static func stageTimestamp(_ line: UnsafeRawBufferPointer) -> String? {
        let key = Self.key
        guard line.count > key.count else { return nil }
        var i = line.count - key.count
        // Scan from the end: the API server writes stageTimestamp after the (large) request and
        // response objects, so the last occurrence is the event's own.
        while i >= 0 {
            if line[i] == 0x22 {
                var j = 1
                while j < key.count && line[i + j] == key[j] { j += 1 }
                if j == key.count {
                    let start = i + key.count
                    var end = start
                    while end < line.count && line[end] != 0x22 { end += 1 }
                    guard end < line.count, end - start <= 40 else { return nil }
                    return String(decoding: UnsafeRawBufferPointer(rebasing: line[start..<end]), as: UTF8.self)
                }
            }
            i -= 1
        }
        return nil
    }
}
