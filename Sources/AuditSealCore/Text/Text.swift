// The few text and path operations the project needs from Foundation's full library, written once
// here so that every module builds against FoundationEssentials alone (whose String API lacks them):
// the full Foundation links ICU's 34 MB data table into the binary.

extension StringProtocol {
    /// The text without leading or trailing whitespace and newlines (Unicode's White_Space, as
    /// Foundation's `trimmingCharacters(in: .whitespacesAndNewlines)`).
    public var trimmed: String { trimmed(where: \.isWhitespace) }

    /// The text without leading or trailing characters that satisfy `drop`.
    public func trimmed(where drop: (Character) -> Bool) -> String {
        guard let first = firstIndex(where: { !drop($0) }) else { return "" }
        let last = lastIndex(where: { !drop($0) })!
        return String(self[first...last])
    }
}

/// `/`-separated path names, as NSString's path methods read them.
public enum PathName {
    /// The last component: `"a/b.gz"` → `"b.gz"`, `"/a/b/"` → `"b"`, `"/"` → `"/"`.
    public static func last(_ path: String) -> String {
        let stripped = stripTrailingSlashes(path)
        if stripped == "/" { return "/" }
        return stripped.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
    }

    /// The path without its last component: `"/a/b"` → `"/a"`, `"/a"` → `"/"`, `"a"` → `""`.
    public static func parent(_ path: String) -> String {
        let stripped = stripTrailingSlashes(path)
        guard let slash = stripped.lastIndex(of: "/") else { return "" }
        if slash == stripped.startIndex { return "/" }
        return stripTrailingSlashes(String(stripped[..<slash]))
    }

    /// The extension after the last component's last dot (`"x.log.gz"` → `"gz"`; `""` without one).
    public static func `extension`(_ path: String) -> String {
        let name = last(path)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...])
    }

    /// The path without the last component's extension (`"a/x.log.gz"` → `"a/x.log"`).
    public static func deletingExtension(_ path: String) -> String {
        let ext = `extension`(path)
        return ext.isEmpty ? path : String(stripTrailingSlashes(path).dropLast(ext.count + 1))
    }

    private static func stripTrailingSlashes(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        return String(p)
    }
}

/// `%XX` escapes, as in a request URI's query (RFC 3986 §2.1).
public enum PercentEncoding {
    /// The text with each `%XX` replaced by its byte; nil when an escape is malformed or the bytes
    /// are not UTF-8 (as Foundation's `removingPercentEncoding`).
    public static func decode(_ text: String) -> String? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        var bytes = text.utf8.makeIterator()
        while let b = bytes.next() {
            guard b == UInt8(ascii: "%") else { out.append(b); continue }
            guard let h = bytes.next().flatMap(Hex.nibble), let l = bytes.next().flatMap(Hex.nibble) else { return nil }
            out.append(h << 4 | l)
        }
        return String(validating: out, as: UTF8.self)
    }
}

extension Double {
    /// The number with exactly `digits` decimals, rounded half away from zero (`String(format: "%.3f")`).
    public func fixed(_ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(self) * scale).rounded()
        guard scaled < 9e15 else { return String(self) }
        let whole = Int64(scaled)
        let unit = Int64(scale)
        var fraction = String(whole % unit)
        fraction = String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        let sign = self < 0 && whole != 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole / unit).\(fraction)"
    }
}
