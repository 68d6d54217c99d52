import AuditSealCore
import FoundationEssentials
import Glibc
import Logging

/// Where and how sealed data is shipped.
public struct ShippingConfiguration: Sendable {
    public var endpoint: S3Endpoint
    /// Key prefix for this cluster, e.g. "prod-eu1"; each store ships under PREFIX/NODE/CHAIN-ID/.
    public var prefix: String
    /// Object Lock retention, counted from each segment's sealing time.
    public var retentionDays: Int = 400
    /// COMPLIANCE (nobody, root included, can shorten or remove it) or GOVERNANCE.
    public var lockMode: String = "COMPLIANCE"
    /// Delete local segment data this many days after sealing, once its upload is confirmed; nil keeps it.
    public var localRetentionDays: Double?
    /// Uploads in flight at once (segment data, hints, checkpoints, signatures); manifests follow
    /// their files one at a time, in sequence order.
    public var concurrentUploads: Int = 6
    /// Redaction vault files (docs/FORMAT.md §12) ship under the store's `vault/`, with their own
    /// retention: nil puts them without one (deletable: erasing a vault erases its values for good,
    /// and the bucket's default retention, if it has one, applies), days puts a GOVERNANCE retention.
    public var vaultRetentionDays: Int?

    public init(endpoint: S3Endpoint, prefix: String) {
        self.endpoint = endpoint
        self.prefix = prefix.trimmed(where: { $0 == "/" })
    }

    /// Checks the values an operator sets; the message names the field.
    public func validate() throws {
        guard lockMode == "COMPLIANCE" || lockMode == "GOVERNANCE" else {
            throw S3Error.configuration("s3LockMode: must be COMPLIANCE or GOVERNANCE, not \(lockMode)")
        }
        guard retentionDays >= 1 else { throw S3Error.configuration("s3RetentionDays: must be at least 1") }
        if let days = localRetentionDays, days < 0 { throw S3Error.configuration("localRetentionDays: must not be negative") }
        guard (1...64).contains(concurrentUploads) else { throw S3Error.configuration("s3ConcurrentUploads: must be 1...64") }
        if let days = vaultRetentionDays, days < 1 { throw S3Error.configuration("s3VaultRetentionDays: must be at least 1 (leave it out for none)") }
    }
}

/// Why shipping cannot go on.
public enum ShippingError: Error, CustomStringConvertible, Sendable {
    /// The bucket has no Object Lock: nothing put there could be called write-once.
    case objectLockDisabled(bucket: String)
    /// An object already exists under our key with other content: never overwritten.
    case conflict(key: String, ours: String, theirs: String)
    /// The store has no chain.json yet (nothing sealed).
    case noChain(String)

    public var description: String {
        switch self {
        case let .objectLockDisabled(bucket):
            return "bucket \(bucket) does not have Object Lock enabled: refusing to ship (create the bucket with Object Lock, see docs/S3.md)"
        case let .conflict(key, ours, theirs):
            return "\(key) already exists with different content (sha256 \(theirs), ours \(ours)): not overwritten; is another store shipping under the same prefix?"
        case let .noChain(dir): return "\(dir) has no chain.json: nothing to ship yet"
        }
    }
}

/// Shipping progress, for metrics and readiness.
public struct ShippingSnapshot: Sendable {
    /// nil until checked; false when the bucket has no Object Lock (nothing is called shipped then).
    public var objectLockEnabled: Bool?
    public var pendingObjects = 0
    public var pendingSegments = 0
    /// The sealing time of the oldest segment not yet fully shipped.
    public var oldestPendingSealedAt: Date?
    public var objectsShipped = 0
    public var objectsAlreadyPresent = 0
    public var bytesShipped = 0
    public var failures = 0
    public var localSegmentsDeleted = 0
    /// The tree size of the newest manifest confirmed in the bucket (nil before the first).
    public var shippedTreeSize: UInt64?
}

/// Uploads a store's sealed files to an S3 bucket with Object Lock, exactly once each.
///
/// Every round lists the sealed files (chain.json, key copies, each sealed sequence's data,
/// checkpoint, signature and manifest, manifest last) and uploads those without a ledger entry.
/// Before a PUT it HEADs the key: an object with the same SHA-256 is recorded as shipped without
/// a second upload (the previous run died between PUT and ledger write); one with other content is
/// a conflict, never overwritten.
public final class Shipper: Sendable {
    public let configuration: ShippingConfiguration
    public let client: S3Client
    let dataDirectory: String
    let layout: StoreLayout
    let ledger: ShippingLedger
    let logger: Logger
    /// Progress, when local retention last ran, the retention of chain.json and the key copies in
    /// the bucket as last seen or set (by key), and the progress hook: one lock for all.
    private let state = Locked(State())

    struct State {
        var snapshot = ShippingSnapshot()
        var lastRetentionRun = Date.distantPast
        var storeFileRetention = [String: Date]()
        var onShipped: (@Sendable (String, String) -> Void)?
    }

    /// Called after each object is confirmed (relative path, bucket key): for progress output.
    public var onShipped: (@Sendable (String, String) -> Void)? {
        get { state.withLock { $0.onShipped } }
        set { state.withLock { $0.onShipped = newValue } }
    }

    public init(configuration: ShippingConfiguration, client: S3Client, dataDirectory: String, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.client = client
        self.dataDirectory = dataDirectory
        self.layout = StoreLayout(root: dataDirectory)
        self.ledger = try ShippingLedger(dataDirectory: dataDirectory)
        self.logger = logger
    }

    /// A copy of the current progress.
    public var snapshot: ShippingSnapshot { state.withLock { $0.snapshot } }

    func update(_ change: (inout ShippingSnapshot) -> Void) { state.withLock { change(&$0.snapshot) } }

    /// Checks that the bucket has Object Lock enabled; throws `objectLockDisabled` otherwise.
    public func checkBucket() async throws {
        let lockConfig = try await client.objectLockConfiguration()
        let enabled = lockConfig?.enabled ?? false
        update { $0.objectLockEnabled = enabled }
        guard enabled else { throw ShippingError.objectLockDisabled(bucket: configuration.endpoint.bucket) }
    }

    /// One file to ship.
    struct LocalObject {
        var relativePath: String
        /// Retention counts from here (the segment's sealing time, or now for store-level files).
        var sealedAt: Date
        var sequence: Int?
        /// A redaction vault file: its own retention (`vaultRetentionDays`).
        var vault = false
    }

    /// The key prefix of this store in the bucket: PREFIX/NODE/CHAIN-ID/.
    public func storePrefix() throws -> String { try Self.storePrefix(dataDirectory: dataDirectory, prefix: configuration.prefix) }

    /// The key prefix of a data directory's store under a cluster prefix: PREFIX/NODE/CHAIN-ID/.
    public static func storePrefix(dataDirectory: String, prefix: String) throws -> String {
        let chainFile = StoreLayout(root: dataDirectory).chainFile
        guard FileIO.exists(chainFile) else { throw ShippingError.noChain(dataDirectory) }
        let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: chainFile))
        let node = identity.node.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }
        return (prefix.isEmpty ? "" : prefix + "/") + String(node) + "/" + identity.chainID + "/"
    }

    /// What is sealed locally and not yet in the ledger, in upload order. Manifests are read only
    /// for sequences with something left to ship.
    func pendingFiles(prefix: String) throws -> [LocalObject] {
        func shipped(_ relative: String) -> Bool { ledger.contains(ledgerName(prefix + relative)) }
        var out = [LocalObject]()
        for relative in ["chain.json"] + (try FileIO.list(layout.keysDirectory)).filter({ $0.hasSuffix(".pub") }).map({ "keys/" + $0 })
        where !shipped(relative) {
            out.append(LocalObject(relativePath: relative, sealedAt: Date(), sequence: nil))
        }
        // Completeness report snapshots (docs/FORMAT.md §11): each written once, shipped as it appears.
        let reconcileFolder = dataDirectory + "/reconcile"
        if FileIO.exists(reconcileFolder) {
            for name in try FileIO.list(reconcileFolder).sorted() where CompletenessReport.isSnapshot("reconcile/" + name) && !shipped("reconcile/" + name) {
                out.append(LocalObject(relativePath: "reconcile/" + name, sealedAt: Date(), sequence: nil))
            }
        }
        // Closed redaction vault files (an open one is still being appended to).
        if FileIO.exists(layout.vaultDirectory) {
            for name in try FileIO.list(layout.vaultDirectory).sorted() where name.hasSuffix(".vault") && !shipped("vault/" + name) {
                out.append(LocalObject(relativePath: "vault/" + name, sealedAt: Date(), sequence: nil, vault: true))
            }
        }
        let names = Set(try FileIO.list(layout.segmentsDirectory))
        // Witness cosignatures arrive after their checkpoint (docs/FORMAT.md §6.1); they ship when they do.
        var cosignatures = [String: [String]]()
        for name in names where name.contains(".cosignature.") && !name.hasSuffix(".tmp") {
            cosignatures[String(name.prefix { $0 != "." }), default: []].append(name)
        }
        for sequence in try layout.manifestSequences() {
            let stem = Manifest.stem(sequence)
            // Data first, the manifest (which makes the sequence visible to verify) last, then cosignatures.
            let files = (ShippingLedger.segmentSuffixes.map { stem + $0 }.filter { names.contains($0) } + (cosignatures[stem] ?? []).sorted())
                .map { "segments/" + $0 }.filter { !shipped($0) }
            guard !files.isEmpty else { continue }
            let manifest = try layout.manifest(sequence)
            let sealedAt = Timestamp.parse(manifest.sealedAt) ?? Date()
            out += files.map { LocalObject(relativePath: $0, sealedAt: sealedAt, sequence: sequence) }
        }
        return out
    }

    /// The ledger's name for an object.
    func ledgerName(_ key: String) -> String { configuration.endpoint.bucket + "/" + key }

    /// Uploads everything sealed and not yet shipped. Returns the number of objects uploaded.
    @discardableResult
    public func shipPending() async throws -> Int {
        if snapshot.objectLockEnabled != true { try await checkBucket() }
        let prefix = try storePrefix()
        let pending = try pendingFiles(prefix: prefix)
        publishPending(pending)
        // Files first, up to `concurrentUploads` at once; then each manifest, which makes its
        // sequence visible to verifiers, after all of its files and after the manifest before it.
        let files = pending.filter { !$0.relativePath.hasSuffix(".manifest.json") }
        let manifests = pending.filter { $0.relativePath.hasSuffix(".manifest.json") }
        let remaining = RemainingObjects(pending)
        var uploaded = 0
        try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            var next = files.makeIterator()
            func startNext() -> Bool {
                guard let object = next.next() else { return false }
                group.addTask { (object.relativePath, try await self.ship(object, key: prefix + object.relativePath)) }
                return true
            }
            for _ in 0..<configuration.concurrentUploads where !startNext() { break }
            while let (done, didUpload) = try await group.next() {
                if didUpload { uploaded += 1 }
                publishPending(remaining.remove(done))
                _ = startNext()
            }
        }
        for object in manifests {
            if try await ship(object, key: prefix + object.relativePath) { uploaded += 1 }
            publishPending(remaining.remove(object.relativePath))
        }
        if let newest = try publishShippedTreeSize(prefix: prefix) {
            try await extendStoreFileRetention(prefix: prefix, newestSealing: newest)
        }
        // Local retention reads manifests and HEADs objects: at most every ten minutes.
        if let days = configuration.localRetentionDays, Date().timeIntervalSince(state.withLock { $0.lastRetentionRun }) >= 600 {
            try await applyLocalRetention(days: days, prefix: prefix)
            state.withLock { $0.lastRetentionRun = Date() }
        }
        return uploaded
    }

    /// Finds the newest manifest the ledger confirms in the bucket, publishes its tree size and
    /// returns its sealing time.
    @discardableResult
    func publishShippedTreeSize(prefix: String) throws -> Date? {
        for sequence in try layout.manifestSequences().reversed()
        where ledger.contains(ledgerName(prefix + "segments/" + Manifest.stem(sequence) + ".manifest.json")) {
            let manifest = try layout.manifest(sequence)
            update { $0.shippedTreeSize = manifest.treeSize }
            return Timestamp.parse(manifest.sealedAt)
        }
        return nil
    }

    /// chain.json and the key copies are needed to verify every segment, so they must stay locked
    /// as long as the newest shipped manifest: their retention is extended (COMPLIANCE allows
    /// extending, never shortening) to that manifest's plus 30 days, when it falls short. A HEAD
    /// per file per process, then one PUT ?retention per file about once a month.
    func extendStoreFileRetention(prefix: String, newestSealing: Date) async throws {
        let needed = newestSealing.addingTimeInterval(Double(configuration.retentionDays) * 86_400)
        let files = ["chain.json"] + (try FileIO.list(layout.keysDirectory)).filter { $0.hasSuffix(".pub") }.map { "keys/" + $0 }
        for relative in files where ledger.contains(ledgerName(prefix + relative)) {
            let key = prefix + relative
            if let known = state.withLock({ $0.storeFileRetention[key] }), known >= needed { continue }
            guard let head = try await client.headObject(key: key) else { continue }
            // Only our own bytes are kept longer; anything else is for verify to report.
            let ours = SHA256.digest(try FileIO.readAll(path: dataDirectory + "/" + relative)).hex
            guard head.metadata["sha256"] == ours else { continue }
            // (A minute's slack: the bucket keeps retention to the second.)
            if let current = head.retention?.retainUntil, current >= needed.addingTimeInterval(-60) {
                state.withLock { $0.storeFileRetention[key] = current }
                continue
            }
            let until = needed.addingTimeInterval(30 * 86_400)
            try await client.putObjectRetention(key: key, versionID: head.versionID, retention: ObjectRetention(mode: configuration.lockMode, retainUntil: until))
            state.withLock { $0.storeFileRetention[key] = until }
            logger.info("extended retention", metadata: ["key": "\(key)", "until": "\(S3Client.isoDate(until))"])
        }
    }

    /// The objects of a round not yet confirmed, for the pending gauges.
    final class RemainingObjects: Sendable {
        private let objects: Locked<[LocalObject]>
        init(_ objects: [LocalObject]) { self.objects = Locked(objects) }
        /// Removes one by path; returns what is left.
        func remove(_ relativePath: String) -> [LocalObject] {
            objects.withLock { objects in
                objects.removeAll { $0.relativePath == relativePath }
                return objects
            }
        }
    }

    func publishPending(_ pending: [LocalObject]) {
        let sequences = Set(pending.compactMap(\.sequence))
        let oldest = pending.filter { $0.sequence != nil }.map(\.sealedAt).min()
        update {
            $0.pendingObjects = pending.count
            $0.pendingSegments = sequences.count
            $0.oldestPendingSealedAt = oldest
        }
    }

    /// Ships one file; returns true when it was uploaded, false when it was already there.
    func ship(_ object: LocalObject, key: String) async throws -> Bool {
        let bytes = try FileIO.readAll(path: dataDirectory + "/" + object.relativePath)
        let sha = SHA256.digest(bytes).hex
        let retention: ObjectRetention? = object.vault
            ? configuration.vaultRetentionDays.map { ObjectRetention(mode: "GOVERNANCE", retainUntil: object.sealedAt.addingTimeInterval(Double($0) * 86_400)) }
            : ObjectRetention(mode: configuration.lockMode, retainUntil: object.sealedAt.addingTimeInterval(Double(configuration.retentionDays) * 86_400))
        if let existing = try await client.headObject(key: key) {
            let theirs = existing.metadata["sha256"] ?? "unknown"
            guard theirs == sha || existing.eTag == Hex.encode(MD5.digest(bytes)) && existing.size == bytes.count else {
                throw ShippingError.conflict(key: key, ours: sha, theirs: theirs)
            }
            if let retention, existing.retention == nil || existing.retention!.retainUntil < retention.retainUntil.addingTimeInterval(-86_400) {
                try await client.putObjectRetention(key: key, versionID: existing.versionID, retention: retention)
            }
            try ledger.record(.init(object: ledgerName(key), sha256: sha, versionID: existing.versionID ?? "-",
                                    retainUntil: (existing.retention?.retainUntil ?? retention?.retainUntil).map(S3Client.isoDate) ?? "-"))
            update { $0.objectsAlreadyPresent += 1 }
            logger.info("already in the bucket, recorded", metadata: ["key": "\(key)"])
            onShipped?(object.relativePath, key)
            return false
        }
        let contentType = object.relativePath.hasSuffix(".gz") ? "application/gzip"
            : object.relativePath.hasSuffix(".json") ? "application/json" : "application/octet-stream"
        let version = try await client.putObject(key: key, body: bytes, retention: retention, metadata: ["sha256": sha], contentType: contentType)
        try ledger.record(.init(object: ledgerName(key), sha256: sha, versionID: version ?? "-", retainUntil: retention.map { S3Client.isoDate($0.retainUntil) } ?? "-"))
        update {
            $0.objectsShipped += 1
            $0.bytesShipped += bytes.count
        }
        logger.debug("shipped", metadata: ["key": "\(key)", "bytes": "\(bytes.count)"])
        onShipped?(object.relativePath, key)
        return true
    }

    /// Deletes local segment data (the .jsonl.gz and .leaves files; manifests stay) older than the
    /// local retention, only after a HEAD confirms the bucket holds it with our checksum and an
    /// unexpired retention.
    func applyLocalRetention(days: Double, prefix: String) async throws {
        let cutoff = Date().addingTimeInterval(-days * 86_400)
        for sequence in try layout.manifestSequences() where FileIO.exists(layout.segmentPath(sequence)) || FileIO.exists(layout.leafHintsPath(sequence)) {
            let manifest = try layout.manifest(sequence)
            guard manifest.type == "segment", let sealedAt = Timestamp.parse(manifest.sealedAt), sealedAt < cutoff else { continue }
            for path in [layout.segmentPath(sequence), layout.leafHintsPath(sequence)] where FileIO.exists(path) {
                let relative = "segments/" + PathName.last(path)
                let key = prefix + relative
                // The bucket must hold exactly these bytes, under an unexpired lock.
                guard ledger.contains(ledgerName(key)), let head = try await client.headObject(key: key),
                      head.metadata["sha256"] == SHA256.digest(try FileIO.readAll(path: path)).hex,
                      let retention = head.retention, retention.retainUntil > Date() else { continue }
                guard unlink(path) == 0 else { throw AuditSealError.io("cannot delete \(path)", errno: errno) }
                update { $0.localSegmentsDeleted += 1 }
                logger.info("local retention: deleted shipped segment data", metadata: ["file": "\(relative)", "key": "\(key)"])
            }
        }
    }

    /// Ships after each manifest the store makes durable (`AuditStore.sealedManifests()`, which
    /// also gives the newest at the start: what an earlier run left is shipped first), until the
    /// stream ends or the task is cancelled. A failed round is counted, logged and tried again with
    /// backoff (1 s doubling to 5 min) until it succeeds: the one timer left, for a bucket that does
    /// not answer. Nothing lists the data directory between manifests.
    public func follow(_ manifests: AsyncStream<Int>) async {
        var backoff = 1.0
        for await _ in manifests {
            while !Task.isCancelled {
                do {
                    try await shipPending()
                    backoff = 1
                    break
                } catch is CancellationError {
                    return
                } catch {
                    update { $0.failures += 1 }
                    logger.error("shipping failed, retrying in \(Int(backoff)) s: \(error)")
                    do { try await Task.sleep(for: .seconds(backoff)) } catch { return }  // backoff, not a synchronization
                    backoff = min(backoff * 2, 300)
                }
            }
        }
    }
}
