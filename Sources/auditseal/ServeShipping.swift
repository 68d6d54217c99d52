import AuditSealCore
import AuditSealServer
import AuditSealShipping
import Logging

// The composition of shipping into `serve`: the Server module knows only `OffsiteCopy`.

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

extension ShippingOffsite: OffsiteCopy {}
