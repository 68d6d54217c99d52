import AuditSealCore
import Foundation

/// `Fixtures/leaks.jsonl`: one event per leak shape (PROVENANCE.md), and the secrets each holds.
public enum LeakCorpus {
    public static let directory = TestSupport.packageRoot + "/Tests/AuditSealRedactionTests/Fixtures"
    public static let eventsPath = directory + "/leaks.jsonl"

    public static func lines() throws -> [[UInt8]] {
        try FileIO.readAll(path: eventsPath).split(separator: 0x0a).map(Array.init)
    }

    /// (rule that must remove it, the secret's text).
    public static func secrets() throws -> [(rule: String, value: String)] {
        String(decoding: try FileIO.readAll(path: directory + "/leaks-secrets.txt"), as: UTF8.self)
            .split(separator: "\n").map { line in
                let parts = line.split(separator: " ", maxSplits: 1)
                return (String(parts[0]), String(parts[1]))
            }
    }

    /// Every form a secret may take on disk: as it is, base64 (as a Secret's data holds it, and
    /// again inside last-applied), URL-encoded, and JSON-escaped.
    public static func forms(of secret: String) -> [String] {
        let bytes = Data(secret.utf8)
        var forms = [secret, bytes.base64EncodedString()]
        // base64 of the secret at any of the three alignments inside a longer value.
        for shift in 1...2 {
            let padded = Data(repeating: 0x41, count: shift) + bytes
            // The first group mixes in the prefix, the last may be padding: the rest is the secret's alone.
            forms.append(String(padded.base64EncodedString().dropFirst(4).dropLast(4)))
        }
        forms.append(secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret)
        return Array(Set(forms.filter { $0.count >= 8 }))
    }

    /// The forms of every secret found in `bytes`, with the secret's rule.
    public static func leaks(in bytes: [UInt8]) throws -> [String] {
        var found = [String]()
        try bytes.withUnsafeBytes { raw in
            for (rule, secret) in try secrets() {
                for form in forms(of: secret) where ByteSearch.contains(raw, Array(form.utf8)) { found.append("\(rule): \(form)") }
            }
        }
        return found
    }
}
