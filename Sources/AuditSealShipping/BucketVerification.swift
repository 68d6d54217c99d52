import AuditSealCore
import FoundationEssentials

/// `verify s3://BUCKET/PREFIX`: finds every store shipped under a prefix (one per node and chain),
/// reads each (in memory, a window of segments at a time) with the same `Verifier` as a local store,
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

    /// Verifies one store from the bucket: its small files in memory, its segment data a window
    /// at a time (`BucketSource`, `Verifier.fetchAndRun`); nothing is written to disk.
    public func verify(storePrefix: String, options: Verifier.Options) async throws -> VerificationReport {
        var options = options
        options.heartbeatsMayRunAhead = true  // the node's write-ahead tail is not in the bucket
        let source = try await BucketSource(client: client, storePrefix: storePrefix)
        var report = await Verifier(source: source, options: options).fetchAndRun()
        report.source = "s3://\(client.endpoint.bucket)/\(storePrefix)"
        var extra = [BucketFinding]()
        var sealedAt = [String: Date]()  // stem -> sealing time, from manifests
        for name in try source.list("segments") where name.hasSuffix(".manifest.json") {
            if let bytes = try? source.read("segments/" + name), let manifest = try? Manifest.decode(bytes), let at = Timestamp.parse(manifest.sealedAt) {
                sealedAt[Manifest.stem(manifest.sequence)] = at
            }
        }
        // Every object's retention: what its GET answered, or a HEAD for one no check read (a
        // shard's are its own segments' data and every other file).
        var answered = source.answered
        for (relative, object) in source.objects where answered[relative] == nil && options.shard?.reads(relative) ?? true {
            if let head = try await client.headObject(key: object.key, versionID: object.originalVersionID) { answered[relative] = head }
        }
        let retentions = answered.sorted { $0.key < $1.key }.map { (relative: $0.key, retention: $0.value.retention) }
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
            let stem = String(PathName.last(relative).prefix { $0 != "." })
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
        for object in source.objects.values.sorted(by: { $0.relative < $1.relative }) {
            for (code, message) in object.versionFindings { extra.append(BucketFinding(code: code, message: message, file: object.relative)) }
        }
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
