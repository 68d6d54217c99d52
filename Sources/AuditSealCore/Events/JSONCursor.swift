/// A byte range in a scanned buffer, packed into 8 bytes (inputs are limited to 2 GiB).
/// `escaped` tells whether a string's raw bytes hold `\` escapes.
public struct ByteSpan: Sendable, Equatable {
    private var offset: UInt32
    private var packed: UInt32  // bit 31: escaped; UInt32.max: absent

    @inline(__always) init(start: Int, count: Int, escaped: Bool) {
        offset = UInt32(truncatingIfNeeded: start)
        packed = UInt32(truncatingIfNeeded: count) | (escaped ? 0x8000_0000 : 0)
    }

    static let none = ByteSpan(absent: ())
    private init(absent: Void) { offset = 0; packed = UInt32.max }

    /// Whether the span was found at all.
    @inline(__always) public var isPresent: Bool { packed != UInt32.max }
    @inline(__always) public var start: Int { Int(offset) }
    @inline(__always) public var count: Int { isPresent ? Int(packed & 0x7fff_ffff) : -1 }
    @inline(__always) public var escaped: Bool { isPresent && packed & 0x8000_0000 != 0 }
}

/// A forward-only JSON tokenizer over raw bytes. It validates JSON syntax as it moves and never
/// builds values: strings come back as spans of the input.
struct JSONCursor {
    let base: UnsafePointer<UInt8>
    let end: Int
    var pos: Int
    /// Set whenever insignificant whitespace is skipped; the scanner resets it per event.
    var sawWhitespace = false
    static let maxDepth = 256

    init(_ buffer: UnsafeBufferPointer<UInt8>) {
        self.base = buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!
        self.end = buffer.count
        self.pos = 0
    }

    func error(_ reason: String, at offset: Int? = nil) -> AuditSealError {
        .malformed("byte \(offset ?? pos): \(reason)")
    }

    @inline(__always) var atEnd: Bool { pos >= end }

    @inline(__always) func peek() -> UInt8? { pos < end ? base[pos] : nil }

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            let c = base[pos]
            guard c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 else { return }
            pos += 1
            sawWhitespace = true
        }
    }

    /// Consumes the expected byte (after whitespace) or throws.
    @inline(__always) mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of input, expected \(what)") }
        guard base[pos] == byte else { throw error("expected \(what), found \(describe(base[pos]))") }
        pos += 1
    }

    func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7f ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }

    /// Scans a string starting at `"`; returns the span of its raw contents (without quotes).
    @inline(__always) mutating func scanString() throws -> ByteSpan {
        let open = pos
        pos += 1
        let start = pos
        var escaped = false
        while true {
            // Fast path: eight plain bytes at a time (no '"', no '\\', nothing below 0x20).
            while pos + 8 <= end {
                let w = UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                let q = w ^ (ones &* 0x22)
                let b = w ^ (ones &* 0x5c)
                let special = ((q &- ones) & ~q) | ((b &- ones) & ~b) | ((w &- ones &* 0x20) & ~w)
                // Non-ASCII bytes (high bit set) leave the fast path too: they must form valid UTF-8.
                if (special | w) & highs != 0 { break }
                pos += 8
            }
            while pos < end {
                let c = base[pos]
                if c == 0x22 || c == 0x5c || c < 0x20 { break }
                if c >= 0x80 {
                    try validateUTF8Sequence()
                    continue
                }
                pos += 1
            }
            guard pos < end else { throw error("unterminated string", at: open) }
            let c = base[pos]
            if c == 0x22 {
                pos += 1
                return ByteSpan(start: start, count: pos - 1 - start, escaped: escaped)
            }
            if c < 0x20 { throw error("control character \(describe(c)) in string") }
            // Backslash escape.
            escaped = true
            pos += 1
            guard pos < end else { throw error("unterminated string", at: open) }
            switch base[pos] {
            case 0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74:
                pos += 1
            case 0x75:  // \uXXXX
                let unit = try hexEscape(at: pos)
                pos += 5
                // UTF-16 surrogates come in pairs (RFC 8259 §7, I-JSON RFC 7493 §2.1): a lone one
                // names no character, and parsers disagree on it (Foundation refuses it, others
                // substitute U+FFFD), as for invalid UTF-8.
                if unit >= 0xdc00 && unit <= 0xdfff { throw error("lone low surrogate \\u\(String(unit, radix: 16)) in string", at: pos - 5) }
                if unit >= 0xd800 && unit <= 0xdbff {
                    guard pos + 1 < end, base[pos] == 0x5c, base[pos + 1] == 0x75 else {
                        throw error("high surrogate \\u\(String(unit, radix: 16)) not followed by a low surrogate", at: pos - 5)
                    }
                    let second = try hexEscape(at: pos + 1)
                    guard second >= 0xdc00 && second <= 0xdfff else {
                        throw error("high surrogate \\u\(String(unit, radix: 16)) not followed by a low surrogate", at: pos - 5)
                    }
                    pos += 6
                }
            default:
                throw error("invalid escape \\\(describe(base[pos]))")
            }
        }
    }

    /// The code unit of the `\uXXXX` escape whose `u` is at `u`.
    @inline(__always) func hexEscape(at u: Int) throws -> UInt16 {
        guard u + 4 < end else { throw error("truncated \\u escape") }
        var unit: UInt16 = 0
        for i in 1...4 {
            let c = base[u + i]
            guard isHex(c) else { throw error("invalid \\u escape", at: u + i) }
            unit = unit << 4 | UInt16(c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57)
        }
        return unit
    }

    /// One UTF-8 sequence at `pos` (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF);
    /// advances past it. JSON text must be UTF-8 (RFC 8259 §8.1): a stored line that is not would be
    /// refused by jq and by the readers of the API server's own log.
    mutating func validateUTF8Sequence() throws {
        let c = base[pos]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xbf  // the allowed range of the second byte
        switch c {
        case 0xc2...0xdf: length = 2
        case 0xe0: length = 3; low = 0xa0
        case 0xe1...0xec, 0xee...0xef: length = 3
        case 0xed: length = 3; high = 0x9f  // no UTF-16 surrogates
        case 0xf0: length = 4; low = 0x90
        case 0xf1...0xf3: length = 4
        case 0xf4: length = 4; high = 0x8f  // at most U+10FFFF
        default: throw error("invalid UTF-8 in string (\(describe(c)))")
        }
        guard pos + length <= end else { throw error("invalid UTF-8 in string (truncated sequence)") }
        let second = base[pos + 1]
        guard second >= low && second <= high else { throw error("invalid UTF-8 in string (\(describe(c)) followed by \(describe(second)))") }
        for i in 2..<length where base[pos + i] & 0xc0 != 0x80 {
            throw error("invalid UTF-8 in string (\(describe(base[pos + i])) inside a sequence)", at: pos + i)
        }
        pos += length
    }

    @inline(__always) func isHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
    }

    @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// Scans a JSON number; returns its span.
    mutating func scanNumber() throws -> ByteSpan {
        let start = pos
        if base[pos] == 0x2d { pos += 1 }
        guard pos < end, isDigit(base[pos]) else { throw error("invalid number", at: start) }
        if base[pos] == 0x30 { pos += 1 } else { while pos < end && isDigit(base[pos]) { pos += 1 } }
        if pos < end && base[pos] == 0x2e {
            pos += 1
            guard pos < end, isDigit(base[pos]) else { throw error("invalid number", at: start) }
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        if pos < end && (base[pos] == 0x65 || base[pos] == 0x45) {
            pos += 1
            if pos < end && (base[pos] == 0x2b || base[pos] == 0x2d) { pos += 1 }
            guard pos < end, isDigit(base[pos]) else { throw error("invalid number", at: start) }
            while pos < end && isDigit(base[pos]) { pos += 1 }
        }
        return ByteSpan(start: start, count: pos - start, escaped: false)
    }

    mutating func scanLiteral(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard pos + n <= end else { throw error("invalid literal") }
        for i in 0..<n where base[pos + i] != word.utf8Start[i] { throw error("invalid literal") }
        pos += n
    }

    /// Skips one JSON value of any kind, validating it.
    mutating func skipValue(depth: Int) throws {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of input, expected a value") }
        switch base[pos] {
        case 0x22: _ = try scanString()
        case 0x7b: try forEachMember(depth: depth + 1) { cursor, _ in try cursor.skipValue(depth: depth + 1) }
        case 0x5b: try forEachElement(depth: depth + 1) { cursor, _ in try cursor.skipValue(depth: depth + 1) }
        case 0x74: try scanLiteral("true")
        case 0x66: try scanLiteral("false")
        case 0x6e: try scanLiteral("null")
        case 0x2d, 0x30...0x39: _ = try scanNumber()
        default: throw error("unexpected \(describe(base[pos]))")
        }
    }

    /// Iterates the members of an object at `{`; body must consume the member's value.
    @inline(__always)
    mutating func forEachMember(depth: Int, _ body: (inout JSONCursor, ByteSpan) throws -> Void) throws {
        guard depth < JSONCursor.maxDepth else { throw error("nesting deeper than \(JSONCursor.maxDepth)") }
        pos += 1
        skipWhitespace()
        if pos < end && base[pos] == 0x7d { pos += 1; return }
        while true {
            skipWhitespace()
            guard pos < end, base[pos] == 0x22 else {
                throw pos < end ? error("expected a member name, found \(describe(base[pos]))") : error("unexpected end of input in object")
            }
            let key = try scanString()
            try expect(0x3a, "':'")
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            guard pos < end else { throw error("unexpected end of input in object") }
            let c = base[pos]
            pos += 1
            if c == 0x2c { continue }
            if c == 0x7d { return }
            throw error("expected ',' or '}', found \(describe(c))", at: pos - 1)
        }
    }

    /// Iterates the elements of an array at `[`; body must consume the element.
    @inline(__always)
    mutating func forEachElement(depth: Int, _ body: (inout JSONCursor, Int) throws -> Void) throws {
        guard depth < JSONCursor.maxDepth else { throw error("nesting deeper than \(JSONCursor.maxDepth)") }
        pos += 1
        skipWhitespace()
        if pos < end && base[pos] == 0x5d { pos += 1; return }
        var index = 0
        while true {
            skipWhitespace()
            try body(&self, index)
            index += 1
            skipWhitespace()
            guard pos < end else { throw error("unexpected end of input in array") }
            let c = base[pos]
            pos += 1
            if c == 0x2c { continue }
            if c == 0x5d { return }
            throw error("expected ',' or ']', found \(describe(c))", at: pos - 1)
        }
    }

    /// Whether the span's bytes equal the ASCII key.
    @inline(__always) func spanEquals(_ span: ByteSpan, _ key: StaticString) -> Bool {
        guard span.count == key.utf8CodeUnitCount, !span.escaped else { return false }
        let k = key.utf8Start
        for i in 0..<span.count where base[span.start + i] != k[i] { return false }
        return true
    }

    /// If the cursor is at a string, scans it; otherwise skips the value and returns `.none`.
    @inline(__always) mutating func stringOrSkip(depth: Int) throws -> ByteSpan {
        if pos < end && base[pos] == 0x22 { return try scanString() }
        try skipValue(depth: depth)
        return .none
    }
}
