/// The top-level members of a JSON object (a stored event line), as byte ranges: what a
/// forwarding sink needs to drop members, add its own and read a few strings without building the
/// whole value tree (a JSONSerialization round trip costs several times more than sending).
public struct JSONMembers: Sendable {
    public struct Member: Sendable {
        /// The key's raw bytes (between the quotes, escapes left as written).
        public var key: Range<Int>
        /// The whole member: from the key's opening quote to the end of its value.
        public var member: Range<Int>
        /// The value (for a string, with its quotes).
        public var value: Range<Int>
        public var valueIsString: Bool
        public var valueIsEscaped: Bool
    }

    public let members: [Member]
    /// The offset of the object's closing `}`.
    public let close: Int
    /// The offset just after the opening `{`.
    public let open: Int

    /// Parses (and validates) the object in `line`; throws on anything that is not one JSON object.
    public init(_ line: UnsafeRawBufferPointer) throws {
        let bytes = line.bindMemory(to: UInt8.self)
        var cursor = JSONCursor(bytes)
        cursor.skipWhitespace()
        guard cursor.peek() == 0x7b else { throw cursor.error("expected an object") }
        let open = cursor.pos + 1
        var members = [Member]()
        members.reserveCapacity(24)
        try cursor.forEachMember(depth: 0) { c, key in
            let start = c.pos
            let isString = c.peek() == 0x22
            var escaped = false
            if isString { escaped = try c.scanString().escaped } else { try c.skipValue(depth: 1) }
            members.append(Member(key: key.start..<(key.start + key.count), member: (key.start - 1)..<c.pos, value: start..<c.pos,
                                  valueIsString: isString, valueIsEscaped: escaped))
        }
        close = cursor.pos - 1
        cursor.skipWhitespace()
        guard cursor.atEnd else { throw cursor.error("data after the object") }
        self.members = members
        self.open = open
    }

    /// The member whose key is `name` (compared as raw bytes: event keys have no escapes).
    public func member(_ name: StaticString, in line: UnsafeRawBufferPointer) -> Member? {
        members.first { m in
            m.key.count == name.utf8CodeUnitCount && (0..<m.key.count).allSatisfy { line[m.key.lowerBound + $0] == name.utf8Start[$0] }
        }
    }

    /// A string member's value without its quotes, when it holds no escapes.
    public func plainString(_ name: StaticString, in line: UnsafeRawBufferPointer) -> String? {
        guard let m = member(name, in: line), m.valueIsString, !m.valueIsEscaped else { return nil }
        return String(decoding: line[(m.value.lowerBound + 1)..<(m.value.upperBound - 1)], as: UTF8.self)
    }
}
