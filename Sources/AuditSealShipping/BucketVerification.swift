import AuditSealCore
import Foundation

/// `verify s3://BUCKET/PREFIX`: finds every store shipped under a prefix (one per node and chain),
/// downloads each into a temporary directory and runs the same `Verifier` as for a local store,
/// adding what only the bucket can show: objects without Object Lock retention (or with less than
/// required) and sealed objects that were overwritten or deleted (extra versions, delete markers).
/// What is verified is each key's **original** version (the oldest, the one auditseal wrote and
/// locked), never a later one: a newer version or a delete marker cannot hide what was sealed.
public struct BucketVerification: Sendable {
    public let client: S3Client
    /// Minimum retention in days counted from each segment's sealing time; 0 only requires that
    /// retention is present.
    public var requiredRetentionDays: Int
    /// The lock mode every object must carry, or nil for either mode.
    public var requiredLockMode: String?

    public init(client: S3Client, requiredRetentionDays: Int = 0, requiredLockMode: String? = nil) {
        self.client = client
        self.requiredRetentionDays = requiredRetentionDays
        self.requiredLockMode = requiredLockMode
    }

    /// Store prefixes (ending in "/") under a prefix (`StoreObject.storePrefixes`: the one rule).
    public func discoverStores(prefix: String) async throws -> [String] {
        let normalized = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
        return StoreObject.storePrefixes(keys: try await client.listKeys(prefix: normalized), under: normalized)
    }

    /// Downloads one store and verifies it.
    public func verify(storePrefix: String, options: Verifier.Options) async throws -> VerificationReport {
        let dir = NSTemporaryDirectory() + "auditseal-verify-\(UUID().uuidString.prefix(8))"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var extra = [BucketFinding]()
        var sealedAt = [String: Date]()  // stem -> sealing time, from manifests
        var retentions = [(relative: String, retention: ObjectRetention?)]()
        let objects = StoreObject.group(try await client.listVersions(prefix: storePrefix), storePrefix: storePrefix)
        for object in objects {
            let relative = object.relative
            // A shard downloads only its own segments' data (their retention is its to check).
            if let shard = options.shard, !shard.reads(relative) { continue }
            guard let (bytes, head) = try await client.getObject(key: object.key, versionID: object.originalVersionID) else { continue }
            let folder = FileIO.directory(of: dir + "/" + relative)
            try FileIO.makeDirectories(folder)
            try FileIO.writeAtomically(path: dir + "/" + relative, bytes: bytes)
            retentions.append((relative, head.retention))
            if relative.hasSuffix(".manifest.json"), let manifest = try? Manifest.decode(bytes),
               let at = Timestamp.parse(manifest.sealedAt) {
                sealedAt[Manifest.stem(manifest.sequence)] = at
            }
        }
        // chain.json and the key copies are needed as long as the newest segment is kept.
        let newestSealing = sealedAt.values.max()
        for (relative, retention) in retentions {
            guard let retention else {
                extra.append(BucketFinding(code: .retentionMissing,
                                     message: "object has no Object Lock retention: it can be deleted (or the credentials lack s3:GetObjectRetention)",
                                     file: relative))
                continue
            }
            if let mode = requiredLockMode, retention.mode != mode {
                extra.append(BucketFinding(code: .retentionMode,
                                     message: "retention mode is \(retention.mode), not \(mode)", file: relative))
            }
            let stem = String((relative as NSString).lastPathComponent.prefix { $0 != "." })
            let storeFile = relative == "chain.json" || relative.hasPrefix("keys/")
            if requiredRetentionDays > 0, let at = storeFile ? newestSealing : sealedAt[stem] {
                let needed = at.addingTimeInterval(Double(requiredRetentionDays) * 86_400 - 86_400)  // a day's slack for clocks
                if retention.retainUntil < needed {
                    let what = storeFile ? "the newest segment's sealing (\(S3Client.isoDate(at))), which needs this file to be verified"
                                         : "sealing (\(S3Client.isoDate(at)))"
                    extra.append(BucketFinding(code: .retentionShort,
                                         message: "retained until \(S3Client.isoDate(retention.retainUntil)), less than \(requiredRetentionDays) days after \(what)",
                                         file: relative))
                }
            }
        }
        // Exactly-once shipping writes one version per key: any other version, or a delete marker, was written by someone else.
        for object in objects {
            for (code, message) in object.versionFindings { extra.append(BucketFinding(code: code, message: message, file: object.relative)) }
        }
        var options = options
        options.heartbeatsMayRunAhead = true  // the node's write-ahead tail is not in the bucket
        var report = Verifier(source: DirectorySource(root: dir), options: options).run()
        report.source = "s3://\(client.endpoint.bucket)/\(storePrefix)"
        for finding in extra { report.add(finding.code, finding.message, file: finding.file) }
        return report
    }
}

/// A problem only the bucket can show (added to the report as an error).
struct BucketFinding {
    var code: Finding.Code
    var message: String
    var file: String
}
