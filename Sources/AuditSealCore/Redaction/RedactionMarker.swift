#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The marker that stands in a stored line where a redaction rule removed a value, and the salted
/// commitment it carries (docs/FORMAT.md §12). The marker is plain ASCII without quotes or
/// backslashes, so it replaces the raw bytes of a JSON string (or a part of one) in place and the
/// line stays valid JSON of the same shape.
///
///     auditseal-redacted:<rule>:<hex commitment>
///     commitment = SHA-256("auditseal-redaction/v1" || 0x00 || salt || path || 0x00 || raw)
///
/// `salt` is 32 random bytes, `path` the JSON text of the value's path (an array of member names and
/// positions, `["responseObject","status","token"]`), `raw` the value's bytes as they stood in the
/// line (JSON escapes kept). The salt makes a short value unguessable from its commitment; the path
/// stops a revealed value from being claimed for another place in the event.
public enum RedactionMarker {
    public static let prefix = "auditseal-redacted:"
    static let domain = Array("auditseal-redaction/v1".utf8) + [0]
    /// Rule names: lower-case letters, digits and '-', 1 to 64 of them.
    public static func isValidRule(_ rule: String) -> Bool {
        !rule.isEmpty && rule.utf8.count <= 64 && rule.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d }
    }

    /// The commitment to one redacted value.
    public static func commitment(salt: [UInt8], path: [JSONStringValues.Step], raw: [UInt8]) -> SHA256Digest {
        var input = domain
        input += salt
        input += Array(pathText(path).utf8)
        input.append(0)
        input += raw
        return SHA256.digest(input)
    }

    /// A path's canonical text: a JSON array of its member names (strings) and positions (numbers).
    public static func pathText(_ path: [JSONStringValues.Step]) -> String {
        var out = "["
        for (i, step) in path.enumerated() {
            if i > 0 { out += "," }
            switch step {
            case .key(let k): out += JSONString.quoted(k)
            case .index(let n): out += String(n)
            }
        }
        return out + "]"
    }

    /// The marker text for a rule and commitment.
    public static func marker(rule: String, commitment: SHA256Digest) -> String {
        prefix + rule + ":" + commitment.hex
    }

    /// One marker found in a line.
    public struct Found: Sendable, Equatable {
        public var rule: String
        public var commitment: SHA256Digest
        /// Byte range of the marker in the line.
        public var range: Range<Int>
    }

    /// Every well-formed marker in a line's bytes, in order.
    public static func find(in line: [UInt8]) -> [Found] {
        line.withUnsafeBytes { find(in: $0) }
    }

    /// Every well-formed marker in bytes (a line, or a whole segment), in order.
    public static func find(in line: UnsafeRawBufferPointer) -> [Found] {
        let p = Array(prefix.utf8)
        var found = [Found]()
        var i = 0
        while let start = firstIndex(of: p, in: line, from: i) {
            var j = start + p.count
            let ruleStart = j
            while j < line.count, line[j] != 0x3a, j - ruleStart <= 64 { j += 1 }
            let rule = String(decoding: line[ruleStart..<min(j, line.count)], as: UTF8.self)
            i = start + 1
            guard j < line.count, line[j] == 0x3a, isValidRule(rule), j + 65 <= line.count,
                  line[(j + 1)..<(j + 65)].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
                  let digest = SHA256Digest(hex: String(decoding: line[(j + 1)..<(j + 65)], as: UTF8.self)) else { continue }
            found.append(Found(rule: rule, commitment: digest, range: start..<(j + 65)))
            i = j + 65
        }
        return found
    }

    /// Whether a line holds the marker prefix at all (a fast test before `find`).
    public static func mayHoldMarkers(_ line: UnsafeRawBufferPointer) -> Bool {
        firstIndex(of: Array(prefix.utf8), in: line, from: 0) != nil
    }

    /// Searched by its '-' (index 9): far rarer in audit events than its letters.
    static func firstIndex(of needle: [UInt8], in haystack: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < haystack.count else { return nil }
        return ByteSearch.firstIndex(of: needle, in: UnsafeRawBufferPointer(rebasing: haystack[from...]), anchor: 9).map { $0 + from }
    }
}

/// Substring search over bytes: memchr for one byte of the needle (the `anchor`, best a byte that
/// is rare in the haystack), then a compare.
public enum ByteSearch {
    public static func firstIndex(of needle: [UInt8], in haystack: UnsafeRawBufferPointer, anchor: Int = 0) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, let base = haystack.baseAddress else { return nil }
        let byte = Int32(needle[anchor])
        let last = haystack.count - needle.count + anchor  // the anchor's last possible position
        var i = anchor
        return needle.withUnsafeBytes { n -> Int? in
            while i <= last {
                guard let hit = memchr(base + i, byte, last - i + 1) else { return nil }
                let start = base.distance(to: UnsafeRawPointer(hit)) - anchor
                if memcmp(base + start, n.baseAddress!, n.count) == 0 { return start }
                i = start + anchor + 1
            }
            return nil
        }
    }

    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        firstIndex(of: needle, in: haystack) != nil
    }

    /// A needle with the anchor memchr should look for: its byte that is rarest in audit events
    /// (upper-case letters, then the rarer lower-case ones; quotes, punctuation and digits last).
    public struct Needle: Sendable {
        public let bytes: [UInt8]
        public let anchor: Int
        /// The letters it holds, case folded, as bits (a = bit 0): see `ByteSearch.letters`.
        public let letters: UInt32
        public init(_ text: String) {
            let bytes = Array(text.utf8)
            self.bytes = bytes
            letters = bytes.withUnsafeBytes { ByteSearch.letters($0) }
            anchor = bytes.indices.min { Needle.rank(bytes[$0]) < Needle.rank(bytes[$1]) } ?? 0
        }
        static let order = Array("QJXZKVWYGBFHUPLMNDOICRTSEAqjxzkvwyfbgpmhulcdonirtsae".utf8)
        static func rank(_ c: UInt8) -> Int { order.firstIndex(of: c) ?? 100 }
    }

    /// The letters in bytes, case folded, as bits: a needle whose letters are not all among a
    /// text's cannot occur in it (one pass over a short text saves dozens of searches).
    public static func letters(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var mask: UInt32 = 0
        for b in bytes {
            let c = b | 0x20
            if c >= 0x61 && c <= 0x7a { mask |= 1 << UInt32(c - 0x61) }
        }
        return mask
    }

    public static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: Needle) -> Bool {
        firstIndex(of: needle.bytes, in: haystack, anchor: needle.anchor) != nil
    }
}
