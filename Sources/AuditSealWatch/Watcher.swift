import AuditSealCore
import AuditSealShipping
import FoundationEssentials
import Glibc
import Logging

/// `auditseal watch`: follows every node's chain under a bucket prefix from off the cluster, with
/// read-only credentials and the public keys, and raises a finding for anything the node's own
/// checks could be silenced about: a verification error, a tail gap seen from the bucket, a chain
/// restart, a retention problem, an object version that replaced another.
///
/// Each poll lists every version under the prefix (one request per 1 000 objects), downloads each
/// object's original version once (never again, across restarts: `DATA_DIR/stores/...`), and
/// verifies the new manifests and segments against the state the earlier ones left. Objects of a
/// sequence wait until its manifest (uploaded last) is in the bucket. Segment data is deleted
/// locally once verified; manifests, signatures, checkpoints and leaf hints stay (a few hundred
/// bytes a sequence). A full re-verification of every store from the bucket runs on its own interval.
public final class Watcher: Sendable {
    public struct Configuration: Sendable {
        /// Key prefix holding the stores (`PREFIX/NODE/CHAIN-ID/`).
        public var prefix: String
        public var trustedKeys: [Ed25519PublicKey]
        public var dataDirectory: String
        /// Seconds between polls.
        public var interval: Double = 10
        /// A tail gap is a manifest older than twice its heartbeat interval plus this.
        public var graceSeconds: Double = 60
        /// Seconds between full re-verifications of every store (0: never).
        public var fullVerificationInterval: Double = 86_400
        /// Retention every object must have, from its sealing (0: present is enough).
        public var requiredRetentionDays = 0
        /// Witness cosignatures to require (nil: not checked), and how long a new checkpoint may
        /// wait for them.
        public var witnessPolicy: WitnessPolicy?
        public var witnessGraceSeconds: Double = 300

        public init(prefix: String, trustedKeys: [Ed25519PublicKey], dataDirectory: String) {
            self.prefix = prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
            self.trustedKeys = trustedKeys
            self.dataDirectory = dataDirectory
        }
    }

    public let configuration: Configuration
    let client: S3Client
    public let metrics: WatchMetrics
    let alerts: AlertSender?
    let logger: Logger
    /// Called with each new finding (the CLI prints a line; tests wait on it).
    public var onFinding: (@Sendable (WatchFinding) -> Void)? {
        get { state.withLock { $0.onFinding } }
        set { state.withLock { $0.onFinding = newValue } }
    }
    /// Each store's state by store prefix, when the last poll succeeded, the finding hook.
    private let state = Locked<(states: [String: StoreWatchState], lastPollOK: Date?, onFinding: (@Sendable (WatchFinding) -> Void)?)>(([:], nil, nil))

    public init(configuration: Configuration, client: S3Client, alerts: AlertSender?, metrics: WatchMetrics, logger: Logger) throws {
        self.configuration = configuration
        self.client = client
        self.alerts = alerts
        self.metrics = metrics
        self.logger = logger
        try FileIO.makeDirectories(configuration.dataDirectory + "/stores")
    }

    /// Shuts the S3 client down (required before the watcher is released).
    public func shutdown() async throws { try await client.shutdown() }

    /// When the last poll succeeded (for /healthz).
    public var lastSuccessfulPoll: Date? { state.withLock { $0.lastPollOK } }

    /// Polls until cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                _ = try await pollOnce()
            } catch is CancellationError {
                return
            } catch {
                metrics.pollFailures.increment()
                logger.error("poll failed, retrying in \(Int(configuration.interval)) s: \(error)")
            }
            do { try await Task.sleep(for: .seconds(configuration.interval)) } catch { return }
        }
    }

    /// One poll of every store; returns the findings not reported before.
    @discardableResult
    public func pollOnce(now: Date = Date()) async throws -> [WatchFinding] {
        let versions = try await client.listVersions(prefix: configuration.prefix)
        var found = [WatchFinding]()
        for storePrefix in Self.storePrefixes(versions, under: configuration.prefix) {
            found += try await poll(storePrefix: storePrefix, versions: versions, now: now)
        }
        found += chainRestarts(now: now)
        var fresh = [WatchFinding]()
        for finding in found where markReported(finding) {
            fresh.append(finding)
            metrics.finding(finding)
            logger.error("finding", metadata: ["kind": "\(finding.kind)", "node": "\(finding.node)", "chain": "\(finding.chainID)",
                                               "file": "\(finding.file ?? "-")", "message": "\(finding.message)"])
            onFinding?(finding)
        }
        for prefix in state.withLock({ Array($0.states.keys) }) { try saveState(prefix) }
        if let alerts { await alerts.send(fresh) }
        metrics.polls.increment()
        metrics.lastPoll.set(to: Date().timeIntervalSince1970)
        state.withLock { $0.lastPollOK = Date() }
        return fresh
    }

    /// What the last poll saw of one store: `watch --once` prints it.
    public struct StoreView: Sendable {
        public var node: String
        public var chainID: String
        public var treeSize: UInt64
        public var lastManifestSequence: Int
        public var lastManifestSealedAt: String?
        public var closing: Bool
    }

    /// Every store seen, by node and chain.
    public var stores: [StoreView] {
        state.withLock { $0.states.values.map { StoreView(node: $0.node, chainID: $0.chainID, treeSize: $0.treeSize, lastManifestSequence: $0.lastManifestSequence,
                                                       lastManifestSealedAt: $0.lastManifestSealedAt, closing: $0.lastManifestClosing) } }
            .sorted { ($0.node, $0.chainID) < ($1.node, $1.chainID) }
    }

    /// `PREFIX/NODE/CHAIN-ID/` of every store with a chain.json under the prefix.
    static func storePrefixes(_ versions: [ObjectVersion], under prefix: String) -> [String] {
        StoreObject.storePrefixes(keys: versions.map(\.key), under: prefix)
    }

    // MARK: One store

    private func directory(_ state: StoreWatchState) -> String {
        configuration.dataDirectory + "/stores/" + Self.safe(state.node) + "/" + Self.safe(state.chainID)
    }

    static func safe(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }).replacing("..", with: "__")
    }

    private func state(for storePrefix: String) throws -> StoreWatchState {
        if let known = self.state.withLock({ $0.states[storePrefix] }) { return known }
        let parts = storePrefix.dropLast().split(separator: "/").map(String.init)
        let node = parts.count >= 2 ? parts[parts.count - 2] : "?"
        let chain = parts.last ?? "?"
        var fresh = StoreWatchState(storePrefix: storePrefix, node: node, chainID: chain)
        if let saved = StoreWatchState.load(path: directory(fresh) + "/state.json"), saved.storePrefix == storePrefix {
            fresh = saved
        } else {
            // The first poll verifies everything it downloads: the full re-verification is due an interval later.
            fresh.lastFullVerification = Date()
        }
        self.state.withLock { $0.states[storePrefix] = fresh }
        return fresh
    }

    private func saveState(_ storePrefix: String) throws {
        guard let state = self.state.withLock({ $0.states[storePrefix] }) else { return }
        try FileIO.makeDirectories(directory(state))
        try state.save(path: directory(state) + "/state.json")
    }

    private func poll(storePrefix: String, versions: [ObjectVersion], now: Date) async throws -> [WatchFinding] {
        var state = try state(for: storePrefix)
        let dir = directory(state)
        try FileIO.makeDirectories(dir + "/segments")
        try FileIO.makeDirectories(dir + "/keys")
        try FileIO.makeDirectories(dir + "/reconcile")
        var findings = [WatchFinding]()
        func finding(_ kind: String, _ message: String, file: String? = nil, sequence: Int? = nil) {
            findings.append(WatchFinding(kind: kind, node: state.node, chainID: state.chainID, file: file, sequence: sequence, message: message, seenAt: now))
        }
        let objects = StoreObject.group(versions, storePrefix: storePrefix)
        let manifestsInBucket = Set(objects.compactMap { Manifest.sequence(ofFileName: PathName.last($0.relative)) })
        var newSegments = [Int]()
        var newestLanding: Date?
        for object in objects {
            for (code, message) in object.versionFindings { finding(code.rawValue, message, file: object.relative) }
            guard state.versions[object.relative] == nil else { continue }
            // A sequence's files count once its manifest (uploaded after them) is there.
            let name = PathName.last(object.relative)
            let sequence = object.relative.hasPrefix("segments/") ? Int(name.prefix(12)) : nil
            if let sequence, !manifestsInBucket.contains(sequence) { continue }
            guard let (bytes, head) = try await client.getObject(key: object.key, versionID: object.originalVersionID) else { continue }
            metrics.downloaded.increment()
            try FileIO.writeAtomically(path: dir + "/" + object.relative, bytes: bytes)
            state.versions[object.relative] = object.original.versionID
            if head.retention == nil {
                finding("retention-missing", "object has no Object Lock retention: it can be deleted", file: object.relative)
            }
            if let sequence, name.hasSuffix(".jsonl.gz") { newSegments.append(sequence) }
            if name.hasSuffix(".manifest.json"), let landed = object.original.lastModified {
                newestLanding = max(newestLanding ?? landed, landed)
            }
            if object.relative == "chain.json", let identity = try? StableJSON.decode(ChainIdentity.self, from: bytes) {
                state.createdAt = identity.createdAt
            }
        }

        // Verify what is new: every manifest, signature and checkpoint (read locally), and the new segments.
        var verifiedAt: Date?
        if newestLanding != nil || !newSegments.isEmpty || state.lastManifestSequence == 0 {
            var options = Verifier.Options(trustedKeys: configuration.trustedKeys)
            options.segmentsFrom = newSegments.min() ?? Int.max
            // One segment at a time: the watcher shares its machine, and keeps up with one core
            // (docs/PERFORMANCE.md, watch benchmark).
            options.parallelism = 1
            options.heartbeatsMayRunAhead = true
            options.checkTail = false
            options.witnessPolicy = configuration.witnessPolicy
            options.witnessGraceSeconds = configuration.witnessGraceSeconds
            let report = Verifier(source: DirectorySource(root: dir), options: options).run()
            verifiedAt = Date()
            for f in report.findings where f.severity == .error && f.code != "empty-store" {
                finding(f.code, f.message, file: f.file, sequence: f.sequence)
            }
            state.treeSize = report.treeSize
            // Verified segment data is not kept, unless a finding names it.
            let named = Set(report.findings.compactMap(\.file))
            for sequence in newSegments where !named.contains("segments/" + Manifest.stem(sequence) + ".jsonl.gz") {
                _ = unlink(dir + "/segments/" + Manifest.stem(sequence) + ".jsonl.gz")
            }
            if let last = try StoreLayout(root: dir).manifestSequences().last,
               let manifest = try? StoreLayout(root: dir).manifest(last) {
                state.lastManifestSequence = last
                state.lastManifestSealedAt = manifest.sealedAt
                state.lastManifestClosing = manifest.closing
                state.heartbeatIntervalSeconds = max(1, manifest.heartbeatIntervalSeconds)
            }
        }

        // A tail gap, seen from the bucket: nothing new from a running node for too long.
        let lastAt = state.lastManifestSealedAt.flatMap(Timestamp.parse)
        if let lastAt, !state.lastManifestClosing {
            let age = now.timeIntervalSince(lastAt)
            let limit = 2 * Double(state.heartbeatIntervalSeconds) + configuration.graceSeconds
            if age > limit {
                finding("tail-gap", "no manifest since \(state.lastManifestSealedAt ?? "?") (\(Int(age)) s, limit \(Int(limit)) s: twice the heartbeat interval plus \(Int(configuration.graceSeconds)) s) and the last one is not closing: the node stopped, lost its connection to the bucket, or its tail was cut",
                        file: "segments/" + Manifest.stem(state.lastManifestSequence) + ".manifest.json", sequence: state.lastManifestSequence)
            }
        }

        // Full re-verification from the bucket, every so often.
        if configuration.fullVerificationInterval > 0,
           now.timeIntervalSince(state.lastFullVerification ?? .distantPast) >= configuration.fullVerificationInterval {
            var options = Verifier.Options(trustedKeys: configuration.trustedKeys)
            options.checkTail = false
            options.witnessPolicy = configuration.witnessPolicy
            options.witnessGraceSeconds = configuration.witnessGraceSeconds
            let bucket = BucketVerification(client: client, requiredRetentionDays: configuration.requiredRetentionDays)
            let report = try await bucket.verify(storePrefix: storePrefix, options: options)
            for f in report.findings where f.severity == .error && f.code != "empty-store" {
                finding(f.code, f.message, file: f.file, sequence: f.sequence)
            }
            state.lastFullVerification = now
        }

        // Completeness, as the node's receiver reports it (its own account; backfills are signed in the manifests).
        if let report = CompletenessReport.load(from: DirectorySource(root: dir)) {
            if report.mismatchedEvents > (state.mismatchedEvents ?? 0) {
                let latest = report.mismatches.last.map { ": latest event \($0.eventIndex) (auditID \($0.auditID)) vs \($0.file):\($0.line)" } ?? ""
                finding("copy-mismatch", "\(report.mismatchedEvents - (state.mismatchedEvents ?? 0)) stored event(s) differ from the API server's log file\(latest)",
                        file: "reconcile/" + String(report.mismatchedEvents))
            }
            for (plugin, total) in report.sourceDroppedTotal where total > (state.sourceDropped?[plugin] ?? 0) {
                finding("source-drops", "the API server dropped \(total - (state.sourceDropped?[plugin] ?? 0)) audit event(s) before they reached the receiver (apiserver_audit_error_total{plugin=\"\(plugin)\"}, \(total) in all); backfilled from its log file so far: \(report.backfilledEvents)",
                        file: "reconcile/" + plugin + "/" + String(total))
            }
            state.mismatchedEvents = report.mismatchedEvents
            state.sourceDropped = report.sourceDroppedTotal
            metrics.completeness(node: state.node, chain: state.chainID, report)
        }
        metrics.store(node: state.node, chain: state.chainID, treeSize: state.treeSize,
                      secondsSinceManifest: lastAt.map { max(0, now.timeIntervalSince($0)) },
                      lag: newestLanding.flatMap { landed in verifiedAt.map { max(0, $0.timeIntervalSince(landed)) } },
                      closed: state.lastManifestClosing)
        let settled = state
        self.state.withLock { $0.states[storePrefix] = settled }
        return findings
    }

    // MARK: Across a node's chains

    /// A node with a newer chain whose older chain never wrote a closing manifest: its data
    /// directory was wiped or replaced (or it crashed and was re-created), and whatever the old
    /// chain held after its last manifest is gone.
    private func chainRestarts(now: Date) -> [WatchFinding] {
        let all = self.state.withLock { Array($0.states.values) }
        var out = [WatchFinding]()
        for (node, chains) in Dictionary(grouping: all, by: \.node) where chains.count > 1 {
            let ordered = chains.sorted { ($0.createdAt ?? "", $0.chainID) < ($1.createdAt ?? "", $1.chainID) }
            for (old, new) in zip(ordered, ordered.dropFirst()) where !old.lastManifestClosing {
                out.append(WatchFinding(kind: "chain-restart", node: node, chainID: new.chainID, file: nil, sequence: nil,
                                        message: "node \(node) started chain \(new.chainID) while chain \(old.chainID) never wrote a closing manifest (last: \(old.lastManifestSequence), \(old.lastManifestSealedAt ?? "?")): the data directory was wiped or replaced",
                                        seenAt: now))
            }
        }
        return out
    }

    /// True the first time a finding is seen (it is then remembered in its store's state).
    private func markReported(_ finding: WatchFinding) -> Bool {
        state.withLock { s in
            guard let prefix = s.states.first(where: { $0.value.node == finding.node && $0.value.chainID == finding.chainID })?.key else { return true }
            return s.states[prefix]!.reported.insert(finding.fingerprint).inserted
        }
    }
}
