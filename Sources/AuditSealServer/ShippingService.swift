import AuditSealCore
import AuditSealShipping
import Foundation
import Logging
import ServiceLifecycle

extension ServeConfiguration {
    /// The shipping settings, or nil when no S3 endpoint is configured.
    public func shippingConfiguration() throws -> ShippingConfiguration? {
        guard let url = s3Endpoint, let bucket = s3Bucket else { return nil }
        let endpoint = try S3Endpoint(url: url, bucket: bucket, region: s3Region,
                                      addressing: S3Endpoint.Addressing(rawValue: s3Addressing) ?? .path, caFile: s3CA)
        var shipping = ShippingConfiguration(endpoint: endpoint, prefix: s3Prefix)
        shipping.retentionDays = s3RetentionDays
        shipping.lockMode = s3LockMode
        shipping.localRetentionDays = localRetentionDays
        try shipping.validate()
        return shipping
    }

    /// A shipper for this configuration's data directory, or nil when shipping is not configured.
    public func makeShipper(logger: Logger) throws -> Shipper? {
        guard let shipping = try shippingConfiguration() else { return nil }
        let credentials = try SigV4Signer.Credentials.resolve(file: s3CredentialsFile)
        let client = try S3Client(endpoint: shipping.endpoint, credentials: credentials)
        return try Shipper(configuration: shipping, client: client, dataDirectory: dataDir, logger: logger)
    }
}

/// Runs the shipper beside the receiver until shutdown; the receiver ships the closing segment
/// itself after sealing it (`finalRound`).
struct ShippingService: Service {
    let shipper: Shipper
    let pollInterval: Double

    func run() async throws {
        await cancelWhenGracefulShutdown { await shipper.run(pollInterval: pollInterval) }
    }
}

extension Metrics {
    /// Declares the shipping families.
    func describeShippingFamilies() {
        describe("auditseal_s3_object_lock_enabled", type: "gauge", "1 when the bucket has Object Lock enabled, 0 when not (nothing is shipped then).")
        describe("auditseal_ship_pending_objects", type: "gauge", "Sealed files not yet confirmed in the bucket.")
        describe("auditseal_ship_pending_segments", type: "gauge", "Sealed segments not yet fully shipped (upload lag in segments).")
        describe("auditseal_ship_lag_seconds", type: "gauge", "Age of the oldest sealed segment not yet shipped (0 when none).")
        describe("auditseal_ship_objects_total", type: "counter", "Objects uploaded since start.")
        describe("auditseal_ship_bytes_total", type: "counter", "Bytes uploaded since start.")
        describe("auditseal_ship_failures_total", type: "counter", "Shipping rounds that failed since start (each is retried).")
        describe("auditseal_local_segments_deleted_total", type: "counter", "Local segment files deleted by local retention after a confirmed upload.")
    }

    /// Copies a shipping snapshot into gauges.
    func record(_ s: ShippingSnapshot, now: Date = Date()) {
        if let enabled = s.objectLockEnabled { set("auditseal_s3_object_lock_enabled", enabled ? 1 : 0) }
        set("auditseal_ship_pending_objects", Double(s.pendingObjects))
        set("auditseal_ship_pending_segments", Double(s.pendingSegments))
        set("auditseal_ship_lag_seconds", s.oldestPendingSealedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        set("auditseal_ship_objects_total", Double(s.objectsShipped))
        set("auditseal_ship_bytes_total", Double(s.bytesShipped))
        set("auditseal_ship_failures_total", Double(s.failures))
        set("auditseal_local_segments_deleted_total", Double(s.localSegmentsDeleted))
    }
}
