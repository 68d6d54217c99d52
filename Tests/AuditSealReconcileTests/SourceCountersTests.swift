import Testing
@testable import AuditSealReconcile

/// An API server's /metrics text is input from outside: counters beyond UInt64, and series whose
/// sum overflows, are skipped or saturate; they never trap (the reconcile fuzz target found the
/// trap, and its input is a seed in Fuzz/corpus/reconcile).
@Suite struct SourceCountersTests {
    @Test func countersAreSummedPerPlugin() {
        let c = SourceCounters(prometheusText: """
            # TYPE apiserver_audit_event_total counter
            apiserver_audit_event_total 1200
            apiserver_audit_error_total{plugin="buffered"} 3
            apiserver_audit_error_total{plugin="webhook"} 4
            apiserver_audit_error_total{plugin="webhook"} 5
            process_start_time_seconds 1.7e9
            """)
        #expect(c.events == 1200)
        #expect(c.errors == ["buffered": 3, "webhook": 9])
        #expect(c.processStart == 1.7e9)
    }

    @Test func absurdCountersNeitherTrapNorCount() {
        let c = SourceCounters(prometheusText: """
            apiserver_audit_event_total 1e300
            apiserver_audit_event_total 18446744073709551616
            apiserver_audit_event_total 7
            apiserver_audit_error_total{plugin="buffered"} 05800
            apiserver_audit_error_total{plugin="webhook"} 18446744073709549568
            apiserver_audit_error_total{plugin="webhook"} 18446744073709549568
            """)
        #expect(c.events == 7)
        #expect(c.errors["buffered"] == 5800)
        #expect(c.errors["webhook"] == UInt64.max)
        let change = c.change(since: SourceCounters(prometheusText: "apiserver_audit_error_total{plugin=\"webhook\"} 1"))
        #expect(change.dropped["webhook"] == UInt64.max - 1)
    }
}
