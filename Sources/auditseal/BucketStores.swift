import ArgumentParser
import AuditSealCore
import AuditSealShipping
import FoundationEssentials

/// The stores under s3://BUCKET/PREFIX for readers (`cat`, `status`): each a `BucketSource` (its
/// small files in memory, segment data fetched on demand, always each key's original version).
struct BucketStores {
    var stores: [BucketSource]
    /// Shuts the client down (call it before returning).
    var cleanup: () async -> Void

    static func open(_ url: String, s3: S3Options, node: String?) async throws -> BucketStores {
        guard let location = BucketURL(url) else { throw ValidationError("\(url): not s3://BUCKET/PREFIX") }
        let client = try s3.client(bucket: location.bucket, for: url)
        let done: () async -> Void = { try? await client.shutdown() }
        do {
            let prefixes = StoreObject.stores(try await BucketVerification(client: client).discoverStores(prefix: location.prefix), ofNode: node)
            guard !prefixes.isEmpty else { throw ValidationError("no auditseal store under \(url)\(node.map { " for node \($0)" } ?? "")") }
            var stores = [BucketSource]()
            for storePrefix in prefixes { stores.append(try await BucketSource(client: client, storePrefix: storePrefix)) }
            return BucketStores(stores: stores, cleanup: done)
        } catch {
            await done()
            throw error
        }
    }
}
