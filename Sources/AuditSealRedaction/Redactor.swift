import AuditSealCore
import FoundationEssentials

/// One value a rule removed from a line: everything its commitment is computed from.
public struct RedactedValue: Sendable, Equatable {
    public var rule: String
    public var path: [JSONStringValues.Step]
    public var salt: [UInt8]
    /// The value's bytes as they stood in the line (JSON escapes kept).
    public var raw: [UInt8]
    public var commitment: SHA256Digest

    /// What the vault keeps of it.
    public var opening: VaultRecord.Opening {
        VaultRecord.Opening(commitment: commitment.hex, rule: rule, path: RedactionMarker.pathText(path),
                            salt: Hex.encode(salt), raw: Data(raw).base64EncodedString())
    }
}

/// Applies the redaction rules to one stored line: each selected value (or part of a string) is
/// replaced in place by its marker. Lines no rule can apply to are recognised by a byte search and
/// left untouched without being parsed.
public struct Redactor: Sendable {
    let pathRules: [PathRule]
    let patterns: [SecretPattern]
    let customPatterns: [(name: String, regex: RegexBox)]
    let builtin: Bool
    /// Every line is walked (a rule without a byte trigger or resource selector is active).
    let walkAlways: Bool
    /// Resources the built-in selectors pick (walked when they carry objects), and those of the
    /// operator's path rules (always walked).
    let selectedResources: [[UInt8]]
    let customResources: [[UInt8]]
    /// Literals of the pattern rules, and the credential words (see `BuiltinRules`).
    let patternNeedles: [ByteSearch.Needle]
    let wordNeedles: [ByteSearch.Needle]

    public init(configuration: RedactionConfiguration) throws {
        try configuration.validate()
        var rules = configuration.builtin ? BuiltinRules.pathRules : []
        rules += configuration.personalData.compactMap { BuiltinRules.personalData[$0] }
        var custom = [(String, RegexBox)]()
        var walkAlways = !configuration.personalData.isEmpty
        var resources = [String]()
        for (i, rule) in configuration.rules.enumerated() {
            if let path = rule.path {
                rules.append(PathRule(name: rule.name, paths: [PathPattern(path)], resources: rule.resources.map(Set.init),
                                      verbs: rule.verbs.map(Set.init)))
                if let selected = rule.resources { resources += selected } else { walkAlways = true }
            } else if let pattern = rule.pattern {
                do {
                    custom.append((rule.name, RegexBox(try Regex(pattern).matchingSemantics(.unicodeScalar))))
                } catch {
                    throw AuditSealError(.usage, "redaction.rules[\(i)].pattern: not a regular expression (\(error))")
                }
                walkAlways = true
            }
        }
        pathRules = rules
        patterns = configuration.builtin ? SecretPattern.builtin : []
        customPatterns = custom
        builtin = configuration.builtin
        self.walkAlways = walkAlways
        selectedResources = configuration.builtin ? BuiltinRules.selectedResources.map { Array($0.utf8) } : []
        customResources = resources.map { Array($0.utf8) }
        patternNeedles = configuration.builtin ? BuiltinRules.patternNeedles : []
        wordNeedles = configuration.builtin ? BuiltinRules.wordNeedles : []
    }

    /// Whether a line may hold something a rule removes (false: it certainly does not), from a
    /// few memchr-anchored searches; `resourceIs` tests the event's resource without decoding it.
    /// Without request and response objects (a Metadata-level event), the built-in rules can only
    /// find something in the request URI's query: the rest of the line is not searched.
    public func mayApply(to line: UnsafeRawBufferPointer, resourceIs: ([UInt8]) -> Bool) -> Bool {
        if walkAlways || customResources.contains(where: resourceIs) { return true }
        guard builtin else { return false }
        if ByteSearch.contains(line, Self.requestObject) || ByteSearch.contains(line, Self.responseObject) {
            return selectedResources.contains(where: resourceIs) || patternNeedles.contains { ByteSearch.contains(line, $0) }
                || wordNeedles.contains { ByteSearch.contains(line, $0) }
        }
        guard let start = ByteSearch.firstIndex(of: Self.requestURI.bytes, in: line, anchor: Self.requestURI.anchor) else { return false }
        let from = start + Self.requestURI.bytes.count
        var end = from
        while end < line.count, line[end] != 0x22 { end += line[end] == 0x5c ? 2 : 1 }
        // Credentials in a URI stand in its query.
        guard let q = line[from..<min(end, line.count)].firstIndex(of: 0x3f) else { return false }
        let query = UnsafeRawBufferPointer(rebasing: line[q..<min(end, line.count)])
        let letters = ByteSearch.letters(query)
        return patternNeedles.contains { $0.letters & ~letters == 0 && ByteSearch.contains(query, $0) }
            || wordNeedles.contains { $0.letters & ~letters == 0 && ByteSearch.contains(query, $0) }
    }

    static let requestObject = ByteSearch.Needle("\"requestObject\"")
    static let responseObject = ByteSearch.Needle("\"responseObject\"")
    static let requestURI = ByteSearch.Needle("\"requestURI\":\"")

    /// The line with every selected value replaced by its marker, and those values; nil when no
    /// rule applies. `fields` gives the event's resource, subresource and verb for the selectors.
    public func redact(_ line: [UInt8], fields: () -> EventFields) throws -> (line: [UInt8], values: [RedactedValue])? {
        var known: EventFields?
        func selected() -> EventFields {
            if let known { return known }
            let f = fields()
            known = f
            return f
        }
        guard line.withUnsafeBytes({ mayApply(to: $0, resourceIs: { selected().resource.map { Array($0.utf8) } == $0 }) }) else { return nil }
        var cuts = [(range: Range<Int>, rule: String, path: [JSONStringValues.Step])]()
        // The pattern literals this line holds at all, found once: searching every string for
        // every literal cost a thousand short searches an event.
        let present: [(pattern: SecretPattern, triggers: [[UInt8]])] = line.withUnsafeBytes { raw in
            patterns.compactMap { p in
                let found = p.triggers.filter { ByteSearch.contains(raw, $0) }
                return found.isEmpty ? nil : (p, found)
            }
        }
        var envName: (prefix: ArraySlice<JSONStringValues.Step>, credential: Bool)?
        try line.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            try JSONStringValues.forEach(in: raw) { path, range in
                // Whole values first: a rule that takes the value leaves nothing for the patterns.
                for rule in pathRules where rule.paths.contains(where: { $0.matches(path) }) && rule.selects(selected()) {
                    cuts.append((range, rule.name, path))
                    return
                }
                guard builtin else { return customMatches(bytes, range, path, into: &cuts) }
                // An environment variable whose name names a credential (`name` precedes `value`).
                if path.count >= 3, case .key("env") = path[path.count - 3], case .index = path[path.count - 2], case .key(let member) = path[path.count - 1] {
                    if member == "name" {
                        let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
                        envName = (path.dropLast(), BuiltinRules.namesCredential(name))
                    } else if member == "value", let envName, envName.credential, envName.prefix == path.dropLast() {
                        cuts.append((range, "env-credential", path))
                        return
                    }
                }
                if Self.isConfigMapData(path), selected().resource == "configmaps" {
                    if case .key(let dataKey) = path.last!, BuiltinRules.namesCredential(dataKey) {
                        cuts.append((range, "configmap-credential", path))
                        return
                    }
                    for r in Self.credentialAssignments(bytes, range) { cuts.append((r, "configmap-credential", path)) }
                }
                if path == [.key("requestURI")] {
                    for r in Self.credentialsInURI(bytes, range) { cuts.append((r, "uri-credential", path)) }
                }
                let slice = UnsafeBufferPointer(rebasing: bytes[range])
                for (pattern, triggers) in present {
                    for trigger in triggers {
                        var from = 0
                        while from < slice.count, let at = ByteSearch.firstIndex(of: trigger, in: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(slice)[from...])).map({ $0 + from }) {
                            if let hit = pattern.match(slice, at) {
                                cuts.append(((range.lowerBound + hit.lowerBound)..<(range.lowerBound + hit.upperBound), pattern.rule, path))
                                from = hit.upperBound
                            } else {
                                from = at + 1
                            }
                        }
                    }
                }
                customMatches(bytes, range, path, into: &cuts)
            }
        }
        guard !cuts.isEmpty else { return nil }
        // Overlaps: the earlier-starting (then the longer) cut wins.
        cuts.sort { $0.range.lowerBound != $1.range.lowerBound ? $0.range.lowerBound < $1.range.lowerBound : $0.range.count > $1.range.count }
        var out = [UInt8]()
        out.reserveCapacity(line.count)
        var values = [RedactedValue]()
        var at = 0
        for cut in cuts where cut.range.lowerBound >= at && !cut.range.isEmpty {
            out += line[at..<cut.range.lowerBound]
            let salt = SecureRandom.bytes(32)
            let raw = Array(line[cut.range])
            let commitment = RedactionMarker.commitment(salt: salt, path: cut.path, raw: raw)
            out += Array(RedactionMarker.marker(rule: cut.rule, commitment: commitment).utf8)
            values.append(RedactedValue(rule: cut.rule, path: cut.path, salt: salt, raw: raw, commitment: commitment))
            at = cut.range.upperBound
        }
        out += line[at...]
        return (out, values)
    }

    private func customMatches(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ path: [JSONStringValues.Step],
                               into cuts: inout [(range: Range<Int>, rule: String, path: [JSONStringValues.Step])]) {
        guard !customPatterns.isEmpty else { return }
        // Matched over the raw text (escapes kept), as ASCII-compatible UTF-8: ranges map back to bytes.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        let utf8 = Array(text.utf8)
        guard utf8.count == range.count else { return }
        for (name, box) in customPatterns {
            for match in text.matches(of: box.regex) {
                let r = match.range
                guard !r.isEmpty else { continue }
                let lower = text.utf8.distance(from: text.startIndex, to: r.lowerBound)
                let upper = text.utf8.distance(from: text.startIndex, to: r.upperBound)
                cuts.append(((range.lowerBound + lower)..<(range.lowerBound + upper), name, path))
            }
        }
    }

    static func isConfigMapData(_ path: [JSONStringValues.Step]) -> Bool {
        switch path.count {
        case 3: return (path[0] == .key("requestObject") || path[0] == .key("responseObject")) && path[1] == .key("data")
        case 5: if case .index = path[2] { return path[0] == .key("responseObject") && path[1] == .key("items") && path[3] == .key("data") }
            return false
        default: return false
        }
    }

    /// In configuration text (properties, env files, YAML), the values of lines `NAME = value` or
    /// `NAME: value` whose name names a credential. Lines are split at the raw `\n` escape.
    static func credentialAssignments(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [Range<Int>] {
        var out = [Range<Int>]()
        var lineStart = range.lowerBound
        var i = range.lowerBound
        func finish(_ end: Int) {
            guard let sep = bytes[lineStart..<end].firstIndex(where: { $0 == 0x3d || $0 == 0x3a }) else { return }
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[lineStart..<sep]), as: UTF8.self).trimmed
            guard BuiltinRules.namesCredential(name) else { return }
            var v = sep + 1
            while v < end, bytes[v] == 0x20 || bytes[v] == 0x09 { v += 1 }
            if v < end { out.append(v..<end) }
        }
        while i < range.upperBound {
            if bytes[i] == 0x5c, i + 1 < range.upperBound {
                if bytes[i + 1] == 0x6e {
                    finish(i)
                    lineStart = i + 2
                }
                i += 2
                continue
            }
            i += 1
        }
        finish(range.upperBound)
        return out
    }

    /// Values in a request URI's query that carry a credential: a parameter whose name names one
    /// (`?token=...`), and, in exec and attach commands, a flag with one (`command=--token%3D...`,
    /// or the `command=` after `command=--password`) or an assignment (`command=API_TOKEN%3D...`).
    /// The raw text may hold `\u0026` for `&` (Go's JSON encoder writes it so).
    static func credentialsInURI(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [Range<Int>] {
        guard let q = bytes[range].firstIndex(of: 0x3f) else { return [] }
        var out = [Range<Int>]()
        var params = [Range<Int>]()
        var start = q + 1
        var i = start
        let amp = Array("\\u0026".utf8)
        while i <= range.upperBound {
            if i == range.upperBound || bytes[i] == 0x26 {
                params.append(start..<i)
                start = i + 1
                i += 1
            } else if bytes[i] == 0x5c, i + amp.count <= range.upperBound, (0..<amp.count).allSatisfy({ bytes[i + $0] == amp[$0] }) {
                params.append(start..<i)
                start = i + amp.count
                i += amp.count
            } else {
                i += 1
            }
        }
        var afterCredentialFlag = false
        for param in params where !param.isEmpty {
            let eq = bytes[param].firstIndex(of: 0x3d) ?? param.upperBound
            let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[param.lowerBound..<eq]), as: UTF8.self)
            let valueRange = min(eq + 1, param.upperBound)..<param.upperBound
            let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueRange]), as: UTF8.self)
            let decoded = (PercentEncoding.decode(value.replacing("+", with: " ")) ?? value)
            if name.lowercased() != "command" {
                if BuiltinRules.namesCredential(name), !valueRange.isEmpty { out.append(valueRange) }
                afterCredentialFlag = false
                continue
            }
            if afterCredentialFlag, !valueRange.isEmpty {
                out.append(valueRange)
                afterCredentialFlag = false
                continue
            }
            // --flag=value, -flag=value or NAME=value, the name naming a credential.
            if decoded.lowercased().contains("bearer ") {
                if !valueRange.isEmpty { out.append(valueRange) }
            } else if let assign = decoded.firstIndex(of: "="), BuiltinRules.namesCredential(String(decoded[..<assign])) {
                if !valueRange.isEmpty { out.append(valueRange) }
            } else if decoded.hasPrefix("-"), BuiltinRules.namesCredential(decoded), !decoded.contains(" ") {
                afterCredentialFlag = true
            }
        }
        return out
    }
}

/// A compiled `Regex` is a value never changed after it is made; its `AnyRegexOutput` type is not
/// declared Sendable, so neither is `Regex<AnyRegexOutput>`.
struct RegexBox: @unchecked Sendable {  // immutable once compiled (see above)
    let regex: Regex<AnyRegexOutput>
    init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
}

