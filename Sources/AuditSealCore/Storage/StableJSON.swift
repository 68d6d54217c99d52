import Foundation

/// JSON encoding with a stable byte form (sorted keys, no escaped slashes), used for every file
/// auditseal writes as JSON. Signatures cover the exact bytes written, so stability is a courtesy to
/// people diffing files, not a requirement of verification.
public enum StableJSON {
    /// Encodes a value as compact JSON with sorted keys.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// Decodes a value; the error names the type.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw AuditSealError.storage("invalid \(T.self) JSON: \(error)")
        }
    }
}

/// RFC 3339 timestamps in UTC with microseconds, as Kubernetes writes them.
public enum Timestamp {
    /// The time as "2026-11-25T17:26:37.123456Z".
    public static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let micros = Int(((seconds - Double(whole)) * 1_000_000).rounded(.down))
        var tm = tm()
        gmtime_r(&whole, &tm)
        func pad(_ v: Int32, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        let micro = String(micros)
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(String(repeating: "0", count: 6 - micro.count))\(micro)Z"
    }

    /// Parses an RFC 3339 timestamp (with or without fractional seconds); nil when invalid.
    public static func parse(_ text: String) -> Date? {
        let parts = text.split(separator: ".", maxSplits: 1)
        let main = parts.count == 2 ? String(parts[0]) + "Z" : text
        var fraction = 0.0
        if parts.count == 2 {
            let digits = parts[1].prefix { $0.isNumber }
            fraction = Double("0." + digits) ?? 0
        }
        let f = Array(main.utf8)
        guard f.count == 20, f[4] == 0x2d, f[7] == 0x2d, f[10] == 0x54, f[13] == 0x3a, f[16] == 0x3a, f[19] == 0x5a else { return nil }
        func num(_ a: Int, _ b: Int) -> Int32? { Int32(String(decoding: f[a..<b], as: UTF8.self)) }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16), let s = num(17, 19) else { return nil }
        var tm = tm()
        tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d; tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = s
        let t = timegm(&tm)
        return Date(timeIntervalSince1970: Double(t) + fraction)
    }
}
