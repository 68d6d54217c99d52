import AuditSealCore
import Foundation
import Testing

/// One parser reads every RFC 3339 timestamp (manifests, filters, the sinks' hot path): its
/// seconds agree with the C library's timegm, and its fractions with Foundation's decimal reading.
struct TimestampTests {
    static func nanos(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { Timestamp.unixNanoseconds(UnsafeRawBufferPointer($0)) }
    }

    @Test func secondsAgreeWithTimegmAcrossTheCalendar() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var tm = tm()
            tm.tm_year = Int32.random(in: 1970...2400, using: &rng) - 1900
            tm.tm_mon = Int32.random(in: 0...11, using: &rng)
            tm.tm_mday = Int32.random(in: 1...28, using: &rng)
            tm.tm_hour = Int32.random(in: 0...23, using: &rng)
            tm.tm_min = Int32.random(in: 0...59, using: &rng)
            tm.tm_sec = Int32.random(in: 0...59, using: &rng)
            let text = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
            let expected = Int64(timegm(&tm))
            #expect(Timestamp.parse(text)?.timeIntervalSince1970 == Double(expected), "\(text)")
            let inNanoseconds = expected.multipliedReportingOverflow(by: 1_000_000_000)  // overflows in April 2262
            #expect(Self.nanos(text) == (inNanoseconds.overflow ? nil : inNanoseconds.partialValue), "\(text)")
        }
        #expect(Self.nanos("2024-02-29T23:59:59Z") == 1_709_251_199_000_000_000)
    }

    @Test func fractionsKeepTheirDigits() {
        #expect(Self.nanos("2026-12-05T10:00:00.5Z") == 1_796_464_800_500_000_000)
        #expect(Self.nanos("2026-12-05T10:00:00.123456Z") == 1_796_464_800_123_456_000)
        #expect(Self.nanos("2026-12-05T10:00:00.123456789123Z") == 1_796_464_800_123_456_789)
        for text in ["2026-12-05T10:00:00.123456Z", "2026-12-05T10:00:00.999999Z", "2026-12-05T10:00:00.000001Z", "2026-12-05T10:00:00.1234567890123456789Z"] {
            let digits = text.dropFirst(20).prefix { $0.isNumber }
            #expect(Timestamp.parse(text)?.timeIntervalSince1970 == 1_796_464_800 + Double("0." + digits)!, "\(text)")
        }
        #expect(Timestamp.format(Timestamp.parse("2026-12-05T10:00:00.123456Z")!) == "2026-12-05T10:00:00.123456Z")
    }

    @Test(arguments: ["", "2026-12-05", "2026-12-05T10:00:00", "2026-12-05T10:00:00+01:00", "2026-13-05T10:00:00Z", "2026-12-05T10:61:00Z",
                      "2026-12-05 10:00:00Z", "2O26-12-05T10:00:00Z", "2026-12-05T10:00:00ZZ", "2026--1-05T10:00:00Z"])
    func invalidTimestampsAreRefused(text: String) {
        #expect(Timestamp.parse(text) == nil)
        #expect(Self.nanos(text) == nil)
    }
}
