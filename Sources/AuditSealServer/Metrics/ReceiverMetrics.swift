import FoundationEssentials
import Prometheus

/// Every metric the receiver exports, as swift-prometheus instruments in the receiver's own
/// registry (so several receivers in one process never share counters). `serve` also bootstraps
/// swift-metrics with a `PrometheusMetricsFactory` over the same registry, so that what libraries
/// emit through swift-metrics (Hummingbird's per-route request metrics) appears on the same
/// `/metrics` page. Instruments are lock-free atomics; a labelled series is looked up under the
/// registry's lock once per request.
public final class ReceiverMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()

    // Ingest.
    let eventsIngested: Counter
    let bytesIngested: Counter
    let duplicatesDropped: Counter
    let bodiesSpooled: Counter
    let appendSeconds: ValueHistogram
    let requestSeconds: ValueHistogram
    // Store.
    let chainIndex: Gauge
    let segmentsSealed: Gauge
    let manifestSequence: Gauge
    let sealFailures: Gauge
    let openSegmentBytes: Gauge
    let lastSealTimestamp: Gauge
    let heartbeatInterval: Gauge
    let segmentMaxAge: Gauge
    let diskFreeBytes: Gauge
    let diskSizeBytes: Gauge
    let ready: Gauge
    let uncommittedAge: Gauge
    // Background verification.
    let verificationRuns: Counter
    let verificationFailures: Counter
    let lastVerificationIntact: Gauge

    /// Upper bounds of the latency histograms, in seconds.
    static let latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// `auditseal_NAME[_UNIT]` with its help text.
    static func name(_ name: String, _ unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "auditseal", metricName: name, unitName: unit, helpText: help)
    }

    public init() {
        let r = registry
        eventsIngested = r.makeCounter(descriptor: Self.name("events_ingested", "total", "Events durably stored."))
        bytesIngested = r.makeCounter(descriptor: Self.name("bytes_ingested", "total", "Request body bytes of stored batches (decoded)."))
        duplicatesDropped = r.makeCounter(descriptor: Self.name("duplicates_dropped", "total", "Re-sent events (same auditID and stage) not stored again."))
        bodiesSpooled = r.makeCounter(descriptor: Self.name("bodies_spooled", "total", "Request bodies over spoolThresholdBytes, spooled to disk instead of held in memory."))
        appendSeconds = r.makeValueHistogram(descriptor: Self.name("append", "seconds", "Time to chain and fsync a batch (group commit included)."), buckets: Self.latencyBuckets)
        requestSeconds = r.makeValueHistogram(descriptor: Self.name("request", "seconds", "Ingest request time, body read included."), buckets: Self.latencyBuckets)
        chainIndex = r.makeGauge(descriptor: Self.name("chain_index", "", "Events in the chain (the next event's index)."))
        segmentsSealed = r.makeGauge(descriptor: Self.name("segments_sealed", "", "Segments sealed since start."))
        manifestSequence = r.makeGauge(descriptor: Self.name("manifest_sequence", "", "Latest manifest sequence number."))
        sealFailures = r.makeGauge(descriptor: Self.name("seal_failures", "", "Sealing attempts that failed since start."))
        openSegmentBytes = r.makeGauge(descriptor: Self.name("open_segment_bytes", "", "Bytes in the open write-ahead segment."))
        lastSealTimestamp = r.makeGauge(descriptor: Self.name("last_seal_timestamp", "seconds", "When the latest manifest (seal or heartbeat) was written (Unix time)."))
        heartbeatInterval = r.makeGauge(descriptor: Self.name("heartbeat_interval", "seconds", "Configured heartbeatIntervalSeconds: a manifest is due at least this often."))
        segmentMaxAge = r.makeGauge(descriptor: Self.name("segment_max_age", "seconds", "Configured segmentMaxAgeSeconds."))
        diskFreeBytes = r.makeGauge(descriptor: Self.name("disk_free", "bytes", "Free bytes on the data directory's file system."))
        diskSizeBytes = r.makeGauge(descriptor: Self.name("disk_size", "bytes", "Size of the data directory's file system."))
        ready = r.makeGauge(descriptor: Self.name("ready", "", "1 when /readyz answers ready, 0 when not."))
        uncommittedAge = r.makeGauge(descriptor: Self.name("uncommitted_event_age", "seconds", "Age of the oldest acknowledged event that no signed manifest commits to yet (0 when none)."))
        verificationRuns = r.makeCounter(descriptor: Self.name("verification_runs", "total", "Background verifications run."))
        verificationFailures = r.makeCounter(descriptor: Self.name("verification_failures", "total", "Background verifications that found the store not intact."))
        lastVerificationIntact = r.makeGauge(descriptor: Self.name("last_verification_intact", "", "1 when the latest background verification found the store intact."))
    }

    /// Counts one answered ingest request by its status code.
    func countBatch(code: Int) {
        registry.makeCounter(descriptor: Self.name("batches", "total", "Ingest requests by answer status code."), labels: [("code", String(code))]).increment()
    }

    /// The exposition text (Prometheus text format 0.0.4).
    func render() -> [UInt8] { registry.emitToBuffer() }
}
