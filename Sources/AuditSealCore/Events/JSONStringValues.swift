/// Every string value of one JSON text (member names excluded), with the path that leads to it and
/// its raw bytes as they stand in the text (escapes kept): what redaction rules select from.
public enum JSONStringValues {
    /// One step of a path: a member name (unescaped) or an array position.
    public enum Step: Sendable, Equatable, Hashable {
        case key(String)
        case index(Int)
    }

    /// Calls `body(path, range)` for each string value in document order; `range` spans the raw
    /// contents between the quotes. Throws on text that is not JSON.
    public static func forEach(in text: UnsafeRawBufferPointer, _ body: (_ path: [Step], _ raw: Range<Int>) throws -> Void) throws {
        try text.withMemoryRebound(to: UInt8.self) { bytes in
            var cursor = JSONCursor(bytes)
            var path = [Step]()
            try visit(&cursor, depth: 0, path: &path, body)
            cursor.skipWhitespace()
            guard cursor.atEnd else { throw cursor.error("trailing bytes after the JSON value") }
        }
    }

    private static func visit(_ c: inout JSONCursor, depth: Int, path: inout [Step], _ body: ([Step], Range<Int>) throws -> Void) throws {
        c.skipWhitespace()
        guard let first = c.peek() else { throw c.error("unexpected end of input, expected a value") }
        switch first {
        case 0x22:
            let span = try c.scanString()
            try body(path, span.start..<(span.start + span.count))
        case 0x7b:
            try c.forEachMember(depth: depth + 1) { cursor, key in
                let raw = UnsafeBufferPointer(rebasing: UnsafeBufferPointer(start: cursor.base, count: cursor.end)[key.start..<(key.start + key.count)])
                path.append(.key(key.escaped ? JSONString.unescape(ArraySlice(raw)) : String(decoding: raw, as: UTF8.self)))
                defer { path.removeLast() }
                try visit(&cursor, depth: depth + 1, path: &path, body)
            }
        case 0x5b:
            try c.forEachElement(depth: depth + 1) { cursor, index in
                path.append(.index(index))
                defer { path.removeLast() }
                try visit(&cursor, depth: depth + 1, path: &path, body)
            }
        default:
            try c.skipValue(depth: depth)
        }
    }
}
