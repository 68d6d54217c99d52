import AuditSealCore

/// Reads a store's sealed files back from the bucket it ships to, for followers whose events local
/// retention has deleted (forwarding sinks that lag). The version read is the original one (what
/// auditseal wrote and locked); the caller checks it against the local signed manifest.
public struct BucketFetcher: SealedFileFetcher {
    let client: S3Client
    let storePrefix: String

    public init(client: S3Client, storePrefix: String) {
        self.client = client
        self.storePrefix = storePrefix
    }

    public var name: String { "s3://\(client.endpoint.bucket)/\(storePrefix)" }

    public func fetch(_ relative: String) async throws -> [UInt8]? {
        let key = storePrefix + relative
        let versions = try await client.listVersions(prefix: key).filter { $0.key == key && !$0.isDeleteMarker }
        // S3 lists a key's versions newest first: the last is the original.
        guard let original = versions.last else { return nil }
        return try await client.getObject(key: key, versionID: original.versionID == "null" ? nil : original.versionID)?.bytes
    }
}
