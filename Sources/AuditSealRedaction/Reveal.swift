import AuditSealCore
import Crypto
import FoundationEssentials

/// What an auditor's key reveals of one stored line: each marker's original, proved against the
/// commitment the sealed line carries and against the place (path) the marker stands in.
public struct Revelation: Codable, Sendable, Equatable {
    public var index: UInt64
    public var rule: String
    /// `RedactionMarker.pathText` of the value's place in the event.
    public var path: String
    public var commitment: String
    /// The original, as it stood in the line (JSON escapes kept), decoded as UTF-8.
    public var value: String?
    /// "proved", "erased" (no vault record holds it), "not-for-this-key" or "invalid: why".
    public var status: String
}

public enum Reveal {
    /// Opens every marker of `line` (event `index`) with the vault records in `records` and `key`.
    public static func open(line: [UInt8], index: UInt64, records: [VaultRecord], key: Curve25519.KeyAgreement.PrivateKey) -> [Revelation] {
        let markers = RedactionMarker.find(in: line)
        guard !markers.isEmpty else { return [] }
        // The path each marker stands at: the string value that contains its bytes.
        var pathAt = [Int: String]()
        try? line.withUnsafeBytes { raw in
            try JSONStringValues.forEach(in: raw) { path, range in
                for (i, m) in markers.enumerated() where range.contains(m.range.lowerBound) && m.range.upperBound <= range.upperBound {
                    pathAt[i] = RedactionMarker.pathText(path)
                }
            }
        }
        return markers.enumerated().map { i, marker in
            let hex = marker.commitment.hex
            var r = Revelation(index: index, rule: marker.rule, path: pathAt[i] ?? "", commitment: hex, value: nil, status: "erased")
            let holding = records.filter { $0.commitments.contains(hex) }
            guard !holding.isEmpty else { return r }
            r.status = "not-for-this-key"
            for record in holding {
                let openings: [VaultRecord.Opening]?
                do { openings = try VaultCrypto.open(record, with: key) } catch {
                    r.status = "invalid: a vault record for this key does not decrypt (\(error))"
                    continue
                }
                guard let opening = openings?.first(where: { $0.commitment == hex }) else { continue }
                guard opening.reproducesCommitment else { r.status = "invalid: the opening does not reproduce the commitment"; continue }
                guard opening.rule == marker.rule, opening.path == r.path else {
                    r.status = "invalid: the opening is for \(opening.rule) at \(opening.path), the marker is \(marker.rule) at \(r.path)"
                    continue
                }
                r.value = Data(base64Encoded: opening.raw).map { String(decoding: $0, as: UTF8.self) }
                r.status = "proved"
                return r
            }
            return r
        }
    }
}
