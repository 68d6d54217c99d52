/// Credential shapes found by their text alone, wherever they stand in a string: JWTs (service
/// account and OIDC tokens), PEM private keys and well-known cloud and SaaS key formats. Each is
/// matched by hand over the raw bytes (no regular expression engine on the ingest path); a
/// `trigger` is the literal every match starts with, searched first.
struct SecretPattern: Sendable {
    let rule: String
    let triggers: [[UInt8]]
    /// Given a trigger's position in `raw`, the range of the secret, or nil when the shape does not hold.
    let match: @Sendable (_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> Range<Int>?

    static func isBase64URL(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f
    }
    static func isAlnum(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
    static func isUpperAlnum(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) }

    /// Length of the run of bytes from `at` that satisfy `accept`.
    static func run(_ raw: UnsafeBufferPointer<UInt8>, from at: Int, _ accept: (UInt8) -> Bool) -> Int {
        var i = at
        while i < raw.count, accept(raw[i]) { i += 1 }
        return i - at
    }

    /// A token starts at a word boundary: not in the middle of a longer run of key characters.
    static func startsWord(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> Bool { at == 0 || !isAlnum(raw[at - 1]) }

    /// `prefix` then a run of at least `minimum` bytes accepted by `body`.
    static func prefixed(_ rule: String, _ prefixes: [String], minimum: Int, _ body: @escaping @Sendable (UInt8) -> Bool) -> SecretPattern {
        SecretPattern(rule: rule, triggers: prefixes.map { Array($0.utf8) }) { raw, at in
            guard startsWord(raw, at) else { return nil }
            guard let p = prefixes.first(where: { prefix in
                let bytes = Array(prefix.utf8)
                return at + bytes.count <= raw.count && (0..<bytes.count).allSatisfy { raw[at + $0] == bytes[$0] }
            }) else { return nil }
            let n = run(raw, from: at + p.utf8.count, body)
            return n >= minimum ? at..<(at + p.utf8.count + n) : nil
        }
    }

    /// The built-in shapes (rule set `builtin/v1`, docs/OPERATIONS.md "Redaction").
    static let builtin: [SecretPattern] = [
        // header.payload.signature, base64url; both JSON parts begin `eyJ` ("{\"").
        SecretPattern(rule: "jwt", triggers: [Array("eyJ".utf8)]) { raw, at in
            guard startsWord(raw, at) else { return nil }
            let header = run(raw, from: at, isBase64URL)
            guard header >= 10, at + header < raw.count, raw[at + header] == 0x2e else { return nil }
            let payloadStart = at + header + 1
            let payload = run(raw, from: payloadStart, isBase64URL)
            guard payload >= 10, payloadStart + payload < raw.count, raw[payloadStart + payload] == 0x2e else { return nil }
            let signatureStart = payloadStart + payload + 1
            return at..<(signatureStart + run(raw, from: signatureStart, isBase64URL))
        },
        // -----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY----- through its END line (or the
        // string's end when the END line is missing: a cut key is still a key).
        SecretPattern(rule: "pem-private-key", triggers: [Array("-----BEGIN ".utf8)]) { raw, at in
            let label = at + 11
            let headerEnd = run(raw, from: label) { ($0 >= 0x41 && $0 <= 0x5a) || $0 == 0x20 }
            let name = String(decoding: UnsafeBufferPointer(rebasing: raw[label..<(label + headerEnd)]), as: UTF8.self)
            guard name.hasSuffix("PRIVATE KEY") else { return nil }
            let end = Array("-----END ".utf8)
            var i = label + headerEnd
            while i + end.count <= raw.count {
                if raw[i] == 0x2d, (0..<end.count).allSatisfy({ raw[i + $0] == end[$0] }) {
                    let close = i + end.count + run(raw, from: i + end.count) { ($0 >= 0x41 && $0 <= 0x5a) || $0 == 0x20 }
                    return at..<(close + run(raw, from: close) { $0 == 0x2d })
                }
                i += 1
            }
            return at..<raw.count
        },
        prefixed("aws-access-key", ["AKIA", "ASIA"], minimum: 16, isUpperAlnum),
        prefixed("github-token", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"], minimum: 30) { isAlnum($0) || $0 == 0x5f },
        prefixed("slack-token", ["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-"], minimum: 10) { isAlnum($0) || $0 == 0x2d },
        prefixed("google-api-key", ["AIza"], minimum: 35) { isBase64URL($0) },
    ]
}
