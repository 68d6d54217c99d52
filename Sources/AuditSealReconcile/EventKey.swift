import AuditSealCore

/// How the reconciliation index names an event: 16 bytes of SHA-256(auditID || 0x00 || stage)
/// (collision-resistant: a client may choose its request's Audit-ID, so a cheap hash could be
/// steered to hide an event), placed by its stageTimestamp's second so that the index grows at its
/// right edge and lookups stay near one another. Both copies of one event carry the same
/// stageTimestamp: the API server sets it once and hands the same event to every backend.
struct EventKey: Hashable, Sendable {
    /// Seconds since 1970 of the stageTimestamp (0 when it has none).
    var second: Int64
    var hash: [UInt8]

    init(auditID: String, stage: String, stageTimestamp: String?, using sha: SHA256) {
        var input = Array(auditID.utf8)
        input.append(0)
        input += stage.utf8
        hash = Array(sha.hash(input).bytes.prefix(16))
        second = stageTimestamp.flatMap(Self.epochSecond) ?? 0
    }

    /// "YYYY-MM-DDTHH:MM:SS…" (UTC, as the API server writes it) to seconds since 1970, without a
    /// date formatter; anything else falls back to the full RFC 3339 parser.
    static func epochSecond(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        func digits(_ at: Int, _ n: Int) -> Int64? {
            guard at + n <= u.count else { return nil }
            var v: Int64 = 0
            for i in at..<(at + n) {
                let c = u[i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        if u.count >= 20, u.last == UInt8(ascii: "Z"), u[4] == 0x2d, u[7] == 0x2d, u[10] == 0x54, u[13] == 0x3a, u[16] == 0x3a,
           let y = digits(0, 4), let m = digits(5, 2), let d = digits(8, 2), let hh = digits(11, 2), let mm = digits(14, 2), let ss = digits(17, 2),
           (1...12).contains(m), (1...31).contains(d) {
            // Days from civil (Howard Hinnant's algorithm).
            let yy = m <= 2 ? y - 1 : y
            let era = (yy >= 0 ? yy : yy - 399) / 400
            let yoe = yy - era * 400
            let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            let days = era * 146097 + doe - 719468
            return days * 86400 + hh * 3600 + mm * 60 + ss
        }
        return Timestamp.parse(text).map { Int64($0.timeIntervalSince1970.rounded(.down)) }
    }
}
