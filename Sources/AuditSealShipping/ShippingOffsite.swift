import AuditSealCore
import FoundationEssentials
import Logging
import Metrics
import ServiceLifecycle

/// Shipping as the receiver's offsite copy: the shipper's rounds as a service, the bucket's Object
/// Lock as a readiness condition, its snapshot as metrics (swift-metrics, rendered by the
/// receiver's registry), and a final round bounded by `finalRoundIdleSeconds` without progress.
public final class ShippingOffsite: Sendable {
    public let shipper: Shipper
    let store: AuditStore
    /// When the bucket last confirmed an object: the final round is cut only after
    /// `finalRoundIdleSeconds` without one.
    let lastShipped = Locked(ContinuousClock.now)
    /// The totals last copied into the counters (they only move forward, by the difference).
    let copied = Locked([Int]())
    public static let finalRoundIdleSeconds = 10.0

    /// `onShipped` is told of each confirmed object (a relative path), for progress output.
    public init(shipper: Shipper, store: AuditStore, onShipped: @escaping @Sendable (String) -> Void) {
        self.shipper = shipper
        self.store = store
        shipper.onShipped = { [weak self] relative, _ in
            self?.lastShipped.withLock { $0 = .now }
            onShipped(relative)
        }
    }

    /// A round after each manifest the store makes durable; a closed vault file ships with the
    /// next one (a heartbeat at the latest).
    struct Rounds: Service {
        let shipper: Shipper
        let store: AuditStore
        func run() async throws {
            let manifests = store.sealedManifests()
            await cancelWhenGracefulShutdown { await shipper.follow(manifests) }
        }
    }

    public var service: any Service { Rounds(shipper: shipper, store: store) }

    public var notReadyReason: String? {
        shipper.snapshot.objectLockEnabled == false ? "s3 bucket has no Object Lock: sealed segments are not being shipped" : nil
    }

    public var copiedTreeSize: UInt64? { shipper.snapshot.shippedTreeSize }

    public func refreshMetrics() {
        let s = shipper.snapshot
        let now = Date()
        if let enabled = s.objectLockEnabled { Gauge(label: "auditseal_s3_object_lock_enabled").record(enabled ? 1 : 0) }
        Gauge(label: "auditseal_ship_pending_objects").record(Double(s.pendingObjects))
        Gauge(label: "auditseal_ship_pending_segments").record(Double(s.pendingSegments))
        Gauge(label: "auditseal_ship_lag_seconds").record(s.oldestPendingSealedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        let unshipped = store.oldestEventTime(from: s.shippedTreeSize ?? 0)
        Gauge(label: "auditseal_unshipped_event_age_seconds").record(unshipped.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        let totals = [s.objectsShipped, s.bytesShipped, s.failures, s.localSegmentsDeleted]
        // Under the lock: concurrent scrapes must not count a difference twice.
        let deltas = copied.withLock { last -> [Int] in
            let previous = last.count == totals.count ? last : Array(repeating: 0, count: totals.count)
            last = zip(totals, previous).map { max($0, $1) }
            return zip(totals, previous).map { max(0, $0 - $1) }
        }
        let counters = [Counter(label: "auditseal_ship_objects_total"), Counter(label: "auditseal_ship_bytes_total"),
                        Counter(label: "auditseal_ship_failures_total"), Counter(label: "auditseal_local_segments_deleted_total")]
        for (counter, delta) in zip(counters, deltas) where delta > 0 { counter.increment(by: delta) }
    }

    /// Ships the closing segment until the bucket confirms nothing for `finalRoundIdleSeconds`: a
    /// bucket that does not answer must not hold the stop, and one that is slow but answering is
    /// not cut off mid-upload. What does not make it is shipped by the next start (or `auditseal ship`).
    public func finalRound(logger: Logger) async {
        do {
            lastShipped.withLock { $0 = .now }
            let shipper = self.shipper
            try await withIdleDeadline(seconds: Self.finalRoundIdleSeconds, lastProgress: { self.lastShipped.withLock { $0 } }) {
                try await shipper.shipPending()
            }
            logger.notice("shipped everything sealed to s3://\(shipper.configuration.endpoint.bucket)")
        } catch {
            logger.error("final shipping round did not finish; the next start ships the rest: \(error)")
        }
        try? await shipper.client.shutdown()
    }
}
