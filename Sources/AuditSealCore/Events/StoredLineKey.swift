/// The identity of one stored line (docs/FORMAT.md §1) — its top-level `auditID`, `stage` and
/// `stageTimestamp` — read by walking only the top-level members (nested values are skipped, not
/// decoded, and no line is rebuilt): what indexes need from lines already accepted by the scanner.
public struct StoredLineKey: Sendable, Equatable {
    public var auditID: String
    public var stage: String
    public var stageTimestamp: String?

    /// Nil when the line is not a JSON object with string `auditID` and `stage` members.
    public init?(_ line: UnsafeRawBufferPointer) {
        var found: (ByteSpan, ByteSpan, ByteSpan) = (.none, .none, .none)
        let bytes = line.bindMemory(to: UInt8.self)
        var cursor = JSONCursor(bytes)
        do {
            cursor.skipWhitespace()
            guard cursor.peek() == 0x7b else { return nil }
            try cursor.forEachMember(depth: 0) { c, key in
                if c.spanEquals(key, "auditID") { found.0 = try c.stringOrSkip(depth: 1) }
                else if c.spanEquals(key, "stage") { found.1 = try c.stringOrSkip(depth: 1) }
                else if c.spanEquals(key, "stageTimestamp") { found.2 = try c.stringOrSkip(depth: 1) }
                else { try c.skipValue(depth: 1) }
            }
        } catch {
            return nil
        }
        func text(_ span: ByteSpan) -> String? {
            guard span.isPresent else { return nil }
            let raw = Array(UnsafeRawBufferPointer(rebasing: line[span.start..<(span.start + span.count)]))[...]
            return span.escaped ? JSONString.unescape(raw) : String(decoding: raw, as: UTF8.self)
        }
        guard let auditID = text(found.0), let stage = text(found.1) else { return nil }
        self.auditID = auditID
        self.stage = stage
        self.stageTimestamp = text(found.2)
    }
}
