import FoundationEssentials
import Glibc

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

    /// The time as "2026-11-25T17:26:37Z" (whole seconds: S3's and Alertmanager's ISO 8601).
    public static func formatWholeSeconds(_ date: Date) -> String {
        let full = format(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
        return String(full.prefix(19)) + "Z"
    }

    /// Parses an RFC 3339 timestamp (with or without fractional seconds); nil when invalid.
    public static func parse(_ text: String) -> Date? {
        var text = text
        guard let p = text.withUTF8({ parts(UnsafeRawBufferPointer($0)) }) else { return nil }
        var fraction = 0.0
        if p.digits > 0 && p.digits <= 15 {
            fraction = Double(p.fraction) / pow(10, Double(p.digits))  // exact operands: the same double as "0.DIGITS"
        } else if p.digits > 15 {
            fraction = Double("0." + text.split(separator: ".", maxSplits: 1)[1].prefix { $0.isNumber }) ?? 0
        }
        return Date(timeIntervalSince1970: Double(p.seconds) + fraction)
    }

    /// Nanoseconds since 1970 of a timestamp's UTF-8 bytes (digits past the ninth dropped): the
    /// forwarding sinks' hot path, no Date or String made. Nil when invalid or past 2262.
    public static func unixNanoseconds(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let p = parts(bytes) else { return nil }
        var nanos = p.digits <= 9 ? p.fraction : 0
        if p.digits > 9 {  // read the first nine digits again (the value may exceed 64 bits)
            for i in 0..<9 { nanos = nanos * 10 + Int64(bytes[20 + i] - 0x30) }
        } else {
            for _ in p.digits..<9 { nanos *= 10 }
        }
        let (whole, overflow) = p.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? nil : whole + nanos  // nil past 2262
    }

    /// The one parser: "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.DIGITS..." (UTC, as
    /// Kubernetes writes them). The seconds since 1970 and the fraction's digits as an integer
    /// (meaningful for up to 18 digits) with their count.
    static func parts(_ f: UnsafeRawBufferPointer) -> (seconds: Int64, fraction: Int64, digits: Int)? {
        guard f.count >= 20, f[4] == 0x2d, f[7] == 0x2d, f[10] == 0x54, f[13] == 0x3a, f[16] == 0x3a else { return nil }
        func num(_ a: Int, _ b: Int) -> Int64? {
            var v: Int64 = 0
            for i in a..<b {
                guard f[i] >= 0x30 && f[i] <= 0x39 else { return nil }
                v = v * 10 + Int64(f[i] - 0x30)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13), let mi = num(14, 16), let s = num(17, 19),
              (1...12).contains(mo), (1...31).contains(d), h <= 24, mi <= 59, s <= 60 else { return nil }
        var fraction: Int64 = 0
        var digits = 0
        if f[19] == 0x2e {
            var i = 20
            while i < f.count, f[i] >= 0x30 && f[i] <= 0x39 {
                if digits < 18 { fraction = fraction * 10 + Int64(f[i] - 0x30) }
                digits += 1
                i += 1
            }
        } else {
            guard f.count == 20, f[19] == 0x5a else { return nil }
        }
        // Days from the civil date (H. Hinnant's algorithm, the proleptic Gregorian calendar timegm uses).
        let year = mo <= 2 ? y - 1 : y
        let era = (year >= 0 ? year : year - 399) / 400
        let yoe = year - era * 400
        let doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1
        let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
        return (days * 86_400 + h * 3600 + mi * 60 + s, fraction, digits)
    }
}
