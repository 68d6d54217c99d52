import AuditSealShipping
import Foundation
import Prometheus

/// The shipping families, registered only when shipping is configured.
final class ShippingMetrics: Sendable {
    let objectLockEnabled: Gauge
    let pendingObjects: Gauge
    let pendingSegments: Gauge
    let lagSeconds: Gauge
    let unshippedAge: Gauge
    let objects: Counter
    let bytes: Counter
    let failures: Counter
    let localSegmentsDeleted: Counter
    /// The totals last copied from a snapshot: counters only move forward, by the difference.
    private let copied = MonotonicTotals()

    init(registry: PrometheusCollectorRegistry) {
        let name = ReceiverMetrics.name
        objectLockEnabled = registry.makeGauge(descriptor: name("s3_object_lock_enabled", "", "1 when the bucket has Object Lock enabled, 0 when not (nothing is shipped then)."))
        pendingObjects = registry.makeGauge(descriptor: name("ship_pending_objects", "", "Sealed files not yet confirmed in the bucket."))
        pendingSegments = registry.makeGauge(descriptor: name("ship_pending_segments", "", "Sealed segments not yet fully shipped (upload lag in segments)."))
        lagSeconds = registry.makeGauge(descriptor: name("ship_lag", "seconds", "Age of the oldest sealed segment not yet shipped (0 when none)."))
        unshippedAge = registry.makeGauge(descriptor: name("unshipped_event_age", "seconds", "Age of the oldest acknowledged event that no manifest in the bucket commits to yet (0 when none)."))
        objects = registry.makeCounter(descriptor: name("ship_objects", "total", "Objects uploaded since start."))
        bytes = registry.makeCounter(descriptor: name("ship_bytes", "total", "Bytes uploaded since start."))
        failures = registry.makeCounter(descriptor: name("ship_failures", "total", "Shipping rounds that failed since start (each is retried)."))
        localSegmentsDeleted = registry.makeCounter(descriptor: name("local_segments_deleted", "total", "Local segment files deleted by local retention after a confirmed upload."))
    }

    /// Copies a shipping snapshot into the gauges and moves the counters up to its totals.
    func record(_ s: ShippingSnapshot, now: Date = Date()) {
        if let enabled = s.objectLockEnabled { objectLockEnabled.set(to: enabled ? 1 : 0) }
        pendingObjects.set(to: Double(s.pendingObjects))
        pendingSegments.set(to: Double(s.pendingSegments))
        lagSeconds.set(to: s.oldestPendingSealedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        let totals = [s.objectsShipped, s.bytesShipped, s.failures, s.localSegmentsDeleted]
        let deltas = copied.advance(to: totals)
        for (counter, delta) in zip([objects, bytes, failures, localSegmentsDeleted], deltas) where delta > 0 {
            counter.increment(by: Int64(delta))
        }
    }
}

/// The last totals copied, under a lock: concurrent scrapes must not count a difference twice.
final class MonotonicTotals: @unchecked Sendable {
    private let lock = NSLock()
    private var last = [Int]()

    /// The increase of each total since the previous call (0 where a total went down).
    func advance(to totals: [Int]) -> [Int] {
        lock.lock(); defer { lock.unlock() }
        let previous = last.count == totals.count ? last : Array(repeating: 0, count: totals.count)
        last = zip(totals, previous).map { max($0, $1) }
        return zip(totals, previous).map { max(0, $0 - $1) }
    }
}
