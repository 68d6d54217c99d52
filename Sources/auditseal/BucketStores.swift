import ArgumentParser
import AuditSealCore
import AuditSealShipping
import Foundation

/// The stores under s3://BUCKET/PREFIX for readers (`cat`, `status`): each store's small files
/// (chain.json, keys, manifests, signatures, checkpoints) in a temporary directory, and segment
/// data fetched on demand — always each key's original version.
struct BucketStores {
    struct Store {
        var name: String
        var dir: String
        var objects: [StoreObject]
        var fetch: (String) async throws -> [UInt8]?
    }

    var stores: [Store]
    /// Removes the temporary files and shuts the client down (call it before returning).
    var cleanup: () async -> Void

    static func open(_ url: String, s3: S3Options, node: String?) async throws -> BucketStores {
        guard let location = BucketURL(url) else { throw ValidationError("\(url): not s3://BUCKET/PREFIX") }
        let (bucket, prefix) = (location.bucket, location.prefix)
        let client = try s3.client(bucket: bucket, for: url)
        let root = NSTemporaryDirectory() + "auditseal-read-\(UUID().uuidString.prefix(8))"
        let done: () async -> Void = {
            try? FileManager.default.removeItem(atPath: root)
            try? await client.shutdown()
        }
        do {
            var prefixes = try await BucketVerification(client: client).discoverStores(prefix: prefix)
            prefixes = StoreObject.stores(prefixes, ofNode: node)
            guard !prefixes.isEmpty else { throw ValidationError("no auditseal store under \(url)\(node.map { " for node \($0)" } ?? "")") }
            var stores = [Store]()
            for (i, storePrefix) in prefixes.enumerated() {
                let dir = root + "/\(i)"
                try FileIO.makeDirectories(dir + "/segments")
                let objects = StoreObject.group(try await client.listVersions(prefix: storePrefix), storePrefix: storePrefix)
                for o in objects where !o.relative.hasSuffix(".jsonl.gz") && !o.relative.hasSuffix(".leaves") && !o.relative.hasSuffix(".nodes") {
                    guard let (bytes, _) = try await client.getObject(key: o.key, versionID: o.originalVersionID) else { continue }
                    try FileIO.makeDirectories(FileIO.directory(of: dir + "/" + o.relative))
                    try FileIO.writeAtomically(path: dir + "/" + o.relative, bytes: bytes)
                }
                let byRelative = Dictionary(objects.map { ($0.relative, $0) }, uniquingKeysWith: { a, _ in a })
                stores.append(Store(name: "s3://\(bucket)/\(storePrefix)", dir: dir, objects: objects, fetch: { relative in
                    guard let o = byRelative[relative] else { return nil }
                    return try await client.getObject(key: o.key, versionID: o.originalVersionID)?.bytes
                }))
            }
            return BucketStores(stores: stores, cleanup: done)
        } catch {
            await done()
            throw error
        }
    }
}
