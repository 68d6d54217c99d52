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
        shipping.concurrentUploads = s3ConcurrentUploads
        shipping.vaultRetentionDays = s3VaultRetentionDays
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
