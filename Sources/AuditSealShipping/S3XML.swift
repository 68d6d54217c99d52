import FoundationEssentials

/// Just enough XML for S3's answers (ListObjectsV2, ListObjectVersions, ObjectLockConfiguration,
/// Error): flat elements with text content, found by name. S3 never sends attributes or mixed
/// content that these answers need, and keys we read are our own; entities are decoded.
public enum S3XML {
    /// The first value of `name`, if any.
    public static func value(_ name: String, in xml: Substring) -> String? {
        blocks(name, in: xml).first.map { decodeEntities(String($0)) }
    }

    /// The raw inner XML of each `<name>…</name>` element, in document order. Also matches
    /// `<name attr="…">`; an empty element `<name/>` yields "".
    public static func blocks(_ name: String, in xml: Substring) -> [Substring] {
        var out = [Substring]()
        var rest = xml[...]
        let close = "</\(name)>"
        while let open = rest.firstRange(of: "<\(name)") {
            let afterName = open.upperBound
            guard afterName < rest.endIndex else { break }
            let next = rest[afterName]
            guard next == ">" || next == " " || next == "/" else { rest = rest[afterName...]; continue }
            guard let tagEnd = rest[afterName...].firstIndex(of: ">") else { break }
            if rest[rest.index(before: tagEnd)] == "/" {  // <name/>
                out.append("")
                rest = rest[rest.index(after: tagEnd)...]
                continue
            }
            let contentStart = rest.index(after: tagEnd)
            guard let end = rest[contentStart...].firstRange(of: close) else { break }
            out.append(rest[contentStart..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return out
    }

    public static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacing("&lt;", with: "<").replacing("&gt;", with: ">")
            .replacing("&quot;", with: "\"").replacing("&apos;", with: "'")
            .replacing("&#34;", with: "\"").replacing("&#39;", with: "'")
            .replacing("&amp;", with: "&")
    }
}
