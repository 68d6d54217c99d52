import AuditSealCore
import Foundation
import Testing

/// ArrivalLog: the age of the oldest event past a committed tree size.
@Suite struct ArrivalLogTests {
    @Test func oldestArrivalPastACommittedSize() {
        var log = ArrivalLog()
        let t0 = Date(timeIntervalSince1970: 1_000)
        log.record(index: 0, at: t0)                              // events 0..<100
        log.record(index: 100, at: t0.addingTimeInterval(0.5))    // same second: no new mark
        log.record(index: 150, at: t0.addingTimeInterval(10))     // events 150..<300
        log.record(index: 300, at: t0.addingTimeInterval(20))     // events 300..<400
        #expect(log.count == 3)
        #expect(log.oldestArrival(from: 0, end: 400) == t0)
        #expect(log.oldestArrival(from: 120, end: 400) == t0)     // held by the first commit's mark (older: safe side)
        #expect(log.oldestArrival(from: 150, end: 400) == t0.addingTimeInterval(10))
        #expect(log.oldestArrival(from: 399, end: 400) == t0.addingTimeInterval(20))
        #expect(log.oldestArrival(from: 400, end: 400) == nil)    // everything is committed
        log.forget(before: 310)
        #expect(log.count == 1)
        #expect(log.oldestArrival(from: 310, end: 400) == t0.addingTimeInterval(20))
    }

    @Test func thinningKeepsTheOldestArrival() {
        var log = ArrivalLog(capacity: 8)
        let t0 = Date(timeIntervalSince1970: 5_000)
        for i in 0..<100 { log.record(index: UInt64(i * 10), at: t0.addingTimeInterval(Double(i) * 2)) }
        #expect(log.count <= 8)
        #expect(log.oldestArrival(from: 0, end: 1_000) == t0)
        // Any answer is at or before the true arrival: ages are never under-reported.
        for i in stride(from: 0, to: 100, by: 7) {
            let answer = log.oldestArrival(from: UInt64(i * 10), end: 1_000)!
            #expect(answer <= t0.addingTimeInterval(Double(i) * 2))
        }
    }
}
