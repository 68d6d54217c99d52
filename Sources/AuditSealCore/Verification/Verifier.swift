import FoundationEssentials
import Glibc
import Dispatch

/// Checks a store end to end (docs/FORMAT.md, "Verification"): manifest signatures and their
/// chain, checkpoints, every segment file's hash, the hash chain and Merkle roots recomputed over
/// every line, index continuity, heartbeats, the open write-ahead segments, and the tail's age.
/// Segments are verified in parallel; each starts from the state its predecessor's manifest states.
public final class Verifier: Sendable {
    /// What to trust and how to report progress.
    public struct Options: Sendable {
        /// Keys that may sign; nil means the store's own copies (internal consistency only).
        public var trustedKeys: [Ed25519PublicKey]?
        /// The time to judge the tail's age against.
        public var now: Date = Date()
        /// Segments verified at once.
        public var parallelism: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
        /// Called with (segments done, segments total).
        public var progress: (@Sendable (Int, Int) -> Void)?
        /// Read only segments with this sequence number or later (every manifest, signature and
        /// checkpoint is still checked): for re-verifying what was sealed since the last run.
        public var segmentsFrom: Int = 1
        /// Sharded verification: read only the segments of shard `index` of `count` (those whose
        /// sequence number is index modulo count). The manifests, their chain and
        /// checkpoints are checked by every shard; the write-ahead log by shard 0.
        /// `VerificationReport.combine` joins the shards' reports into the unsharded verdict.
        public var shard: Shard?
        /// Segment files ("segments/NAME.jsonl.gz") the shipping ledger records as confirmed in the
        /// bucket, with the SHA-256 it states. A missing file is only a warning pointing at the
        /// bucket (local retention deleted it) when that SHA-256 is the manifest's `fileSHA256`; the
        /// ledger is unsigned, so this never proves the file: its events are not verified here.
        public var shippedElsewhere: [String: String] = [:]
        /// A copy without the write-ahead log (a bucket): heartbeats may commit to events that are
        /// not sealed yet. They are checked when the segment holding those events arrives; until
        /// then they are not `events-missing` (a cut tail shows as `tail-gap` or `heartbeat-mismatch`).
        public var heartbeatsMayRunAhead = false
        /// Check the tail's age (`tail-gap`); a watcher judges it itself.
        public var checkTail = true
        /// Witnesses whose cosignatures count, and how many must have cosigned (docs/FORMAT.md §6.1).
        public var witnessPolicy: WitnessPolicy?
        /// Checkpoints sealed less than this long before the newest manifest may still await their
        /// cosignatures (a witness is asked after sealing, and may be down for a while).
        public var witnessGraceSeconds: Double = 0

        public init(trustedKeys: [Ed25519PublicKey]? = nil) { self.trustedKeys = trustedKeys }
    }

    let source: StoreSource
    let options: Options

    public init(source: StoreSource, options: Options) {
        self.source = source
        self.options = options
    }

    struct LoadedManifest {
        var sequence: Int
        var manifest: Manifest
        var bytes: [UInt8]
        /// Signed by a trusted key and structurally sound: only such a manifest's fields steer checks.
        var trusted: Bool
        var fileName: String { Manifest.stem(sequence) + ".manifest.json" }
    }

    struct HeartbeatCheck {
        var sequence: Int
        var treeSize: UInt64
        var head: String
        var root: String
    }

    /// Runs every check and returns the report: the keys and the chain, the manifest chain (a
    /// plan of segment checks), the segments (in parallel), the write-ahead tail, witnesses and
    /// the store's tail. For a source whose files are all within reach of `read` (a directory).
    public func run() -> VerificationReport {
        let preparation = prepare()
        guard case .planned(var prepared) = preparation else { return preparation.report }
        let results = prepared.windows.flatMap { check($0, prepared) }
        return finish(&prepared, results)
    }

    /// `run()` for a source that fetches (a bucket read into memory): each window's segment files
    /// are fetched before its checks and released after them, so at most a window of segment data
    /// is held at a time and nothing is written to disk.
    public func fetchAndRun() async -> VerificationReport {
        let preparation = prepare()
        guard case .planned(var prepared) = preparation else { return preparation.report }
        var results = [SegmentResult]()
        for window in prepared.windows {
            let files = prepared.plan.tasks[window].flatMap { task -> [String] in
                guard let name = task.loaded.manifest.file else { return [] }
                let stem = Manifest.stem(task.loaded.sequence)
                return ["segments/" + name, "segments/\(stem).leaves", "segments/\(stem).nodes"]
            }
            // A file that cannot be fetched is missing to `read`: its checks name it.
            try? await source.fetch(files)
            results += check(window, prepared)
            source.release(files)
        }
        return finish(&prepared, results)
    }

    /// One window of segment checks, with progress.
    private func check(_ window: Range<Int>, _ prepared: Prepared) -> [SegmentResult] {
        defer { options.progress?(window.upperBound, prepared.plan.tasks.count) }
        return checkWindow(window, prepared.plan)
    }

    /// What the checks before the segments found, and their plan.
    struct Prepared {
        var report: VerificationReport
        var manifests: [LoadedManifest]
        var trusted: [LoadedManifest]
        var plan: Plan
        /// The segment tasks in windows of `parallelism`, in chain order.
        var windows: [Range<Int>]
    }

    enum Preparation {
        /// Nothing more to check (no chain ID).
        case done(VerificationReport)
        case planned(Prepared)

        var report: VerificationReport {
            switch self {
            case .done(let report): return report
            case .planned(let prepared): return prepared.report
            }
        }
    }

    /// The keys and the chain, the manifests, and the plan of segment checks.
    private func prepare() -> Preparation {
        let (keys, trust) = trustedKeys()
        var report = VerificationReport(source: source.name, trust: trust, trustedKeyIDs: keys.map(\.keyID))
        if keys.isEmpty { report.add(.noTrustedKey, "no public key to check signatures with") }
        var chainIDBytes: [UInt8]?
        if let bytes = try? source.read("chain.json"), let identity = try? StableJSON.decode(ChainIdentity.self, from: bytes) {
            report.node = identity.node
            report.chainID = identity.chainID
            chainIDBytes = Hex.decode(identity.chainID)
        }

        let manifests = loadManifests(keys: keys, report: &report)
        // A manifest whose signature or structure failed is reported and then ignored: none of its
        // fields (counts, sizes, hashes, file names) may steer what is read or compared.
        let trusted = manifests.filter(\.trusted)
        if chainIDBytes == nil, let first = trusted.first {
            report.chainID = first.manifest.chainID
            report.node = first.manifest.node
            chainIDBytes = Hex.decode(first.manifest.chainID)
        }
        guard let chainID = chainIDBytes, chainID.count == 16 else {
            if manifests.isEmpty && (try? source.list("wal"))?.isEmpty ?? true {
                report.add(.emptyStore, "no chain.json, manifests or write-ahead segments: nothing to verify")
            } else {
                report.add(.chainIdMissing, "cannot determine the chain ID (chain.json and manifests unreadable)")
            }
            return .done(report)
        }
        for loaded in trusted where loaded.manifest.chainID != report.chainID {
            report.add(.chainIdMismatch, "manifest belongs to chain \(loaded.manifest.chainID), not \(report.chainID ?? "?")",
                       file: "segments/" + loaded.fileName, sequence: loaded.sequence)
        }
        let plan = planSegments(manifests: manifests, chainID: chainID, report: &report, using: SHA256())
        let size = max(1, options.parallelism)
        let windows = stride(from: 0, to: plan.tasks.count, by: size).map { $0..<min(plan.tasks.count, $0 + size) }
        return .planned(Prepared(report: report, manifests: manifests, trusted: trusted, plan: plan, windows: windows))
    }

    /// After the segments: their results, the write-ahead tail, witnesses and the store's tail.
    private func finish(_ prepared: inout Prepared, _ results: [SegmentResult]) -> VerificationReport {
        let (manifests, trusted, plan) = (prepared.manifests, prepared.trusted, prepared.plan)
        var report = prepared.report
        let sha = SHA256()
        var markers = [String]()
        for result in results {
            report.findings += result.findings
            report.sealedEvents += result.events
            markers += result.markers
        }
        report.backfilledEvents = plan.tasks.reduce(0) { $0 + BackfilledRanges(pairs: $1.loaded.manifest.backfilled).count }
        report.completeness = CompletenessReport.load(from: source)
        report.redactedValues = UInt64(markers.count)
        if !markers.isEmpty, let vault = source.localPath("vault") {
            // A value no vault record holds was erased (its vault deleted) or never kept (no
            // auditor key): the sealed record is whole either way, so this is a count, not a finding.
            let held = VaultFiles.commitments(in: vault)
            report.erasedValues = UInt64(markers.filter { !held.contains($0) }.count)
        }
        report.manifests = manifests.count

        // Open write-ahead segments continue after the last sealed event.
        var state = plan.expected
        if let shard = options.shard {
            report.shard = shard
            report.shardSegments = plan.tasks.map(\.loaded.sequence)
        }
        if (options.shard?.index ?? 0) == 0 {
            // Manifests after the last trusted segment manifest that failed their checks: the events
            // they alone commit to are unverified, not missing (§8.2), at the tail as in the middle.
            let ignoredAtTail = manifests.filter { !$0.trusted && $0.sequence > plan.lastTrustedSegment }.map(\.sequence)
            verifyWriteAhead(state: &state, heartbeats: plan.walHeartbeats, ignoredAtTail: ignoredAtTail, report: &report, sha: sha)
        } else {
            // Another shard reads the write-ahead log; the tree continues from the sealed part here.
            for name in ((try? source.list("wal")) ?? []).filter({ $0.hasSuffix(".wal") }) {
                guard let path = source.localPath("wal/" + name),
                      let outcome = try? WriteAheadReader(path: path).read({ _, _, leaf in state.append(leaf: leaf, using: sha) }) else { continue }
                report.openEvents += UInt64(outcome.recordCount)
            }
        }
        report.treeSize = state.nextIndex
        report.treeRoot = state.tree.root(using: sha).hex
        if let policy = options.witnessPolicy { checkWitnesses(trusted, policy: policy, report: &report) }
        checkTail(trusted.last, report: &report)
        return report
    }

    /// The keys signatures are checked with: the given ones, or the store's own `keys/*.pub`.
    private func trustedKeys() -> (keys: [Ed25519PublicKey], trust: String) {
        if let trusted = options.trustedKeys { return (trusted, "public-keys") }
        var keys = [Ed25519PublicKey]()
        for name in (try? source.list("keys")) ?? [] where name.hasSuffix(".pub") {
            if let bytes = try? source.read("keys/" + name), let key = try? KeyFiles.parsePublicKey(pem: String(decoding: bytes, as: UTF8.self)) {
                keys.append(key)
            }
        }
        return (keys, "store-keys")
    }

    /// What the manifest chain says is to be checked: one task per segment (each starting from its
    /// predecessor's end state), the heartbeats each task or the write-ahead tail must meet, and
    /// the chain state after the last sealed segment.
    struct Plan {
        var tasks: [SegmentTask]
        var taskHeartbeats: [[HeartbeatCheck]]
        var walHeartbeats: [HeartbeatCheck]
        var expected: ChainState
        /// The sequence of the last trusted segment manifest (0: none).
        var lastTrustedSegment: Int
    }

    /// The manifest chain check: each trusted segment manifest must start where the one before
    /// ended (a gap, overlap or broken link is a finding, and that segment is then checked on its
    /// own terms); heartbeats are placed where the replay will reach their tree size.
    private func planSegments(manifests: [LoadedManifest], chainID: [UInt8], report: inout VerificationReport, using sha: SHA256) -> Plan {
        var expected = ChainState(chainID: chainID, using: sha)
        var tasks = [SegmentTask]()
        var heartbeats = [HeartbeatCheck]()
        var previousTrusted = 0
        for loaded in manifests where loaded.trusted {
            let m = loaded.manifest
            // Sequences between the previous trusted segment manifest and this one that failed their
            // checks. A heartbeat between them does not clear the list: the events the failed
            // manifests committed to are still unverified, not missing.
            let skipped = manifests.filter { !$0.trusted && $0.sequence > previousTrusted && $0.sequence < loaded.sequence }.map(\.sequence)
            if m.type == "heartbeat" {
                report.heartbeats += 1
                heartbeats.append(HeartbeatCheck(sequence: loaded.sequence, treeSize: m.treeSize, head: m.chainHashAfter, root: m.treeRoot))
                continue
            }
            previousTrusted = loaded.sequence
            report.segments += 1
            let start = m.treeSize &- UInt64(m.eventCount)
            var treeKnown = true
            var startState = expected
            if start != expected.nextIndex || m.chainHashBefore != expected.head.hex {
                if start > expected.nextIndex && !skipped.isEmpty {
                    report.add(.eventsUnverified, "events \(expected.nextIndex)...\(start - 1) are committed to only by manifest(s) \(skipped.map(String.init).joined(separator: ", ")), which failed verification",
                               file: "segments/" + loaded.fileName, eventIndex: expected.nextIndex, sequence: loaded.sequence)
                } else if start > expected.nextIndex {
                    report.add(.eventsMissing, "events \(expected.nextIndex)...\(start - 1) are missing before this segment (a segment was deleted?)",
                               file: "segments/" + loaded.fileName, eventIndex: expected.nextIndex, sequence: loaded.sequence)
                } else if start < expected.nextIndex {
                    report.add(.eventsOverlap, "segment starts at event \(start) but events up to \(expected.nextIndex - 1) are already sealed (a segment was inserted or duplicated?)",
                               file: "segments/" + loaded.fileName, eventIndex: start, sequence: loaded.sequence)
                } else {
                    report.add(.chainBroken, "chainHashBefore does not match the previous segment's chainHashAfter",
                               file: "segments/" + loaded.fileName, eventIndex: start, sequence: loaded.sequence)
                }
                // Verify this segment on its own terms, without the tree (its start is unknown).
                treeKnown = false
                // The chain hash needs the right indexes; the tree edge is a placeholder never compared.
                let placeholder = CompactRange(size: start, hashes: Array(repeating: .zero, count: start.nonzeroBitCount))!
                startState = ChainState(chainID: chainID, nextIndex: start, head: SHA256Digest(hex: m.chainHashBefore) ?? .zero, tree: placeholder)
            }
            tasks.append(SegmentTask(loaded: loaded, start: startState, startIndex: start, treeKnown: treeKnown))
            if let after = try? Recovery.state(of: m, chainID: chainID) { expected = after } else {
                report.add(.manifestInvalid, "manifest states an invalid chain state", file: "segments/" + loaded.fileName, sequence: loaded.sequence)
            }
        }
        // Heartbeats are checked where the replay reaches their tree size.
        var taskHeartbeats = [[HeartbeatCheck]](repeating: [], count: tasks.count)
        var walHeartbeats = [HeartbeatCheck]()
        let genesis = ChainState(chainID: chainID, using: sha)
        for hb in heartbeats {
            if hb.treeSize == 0 {
                if hb.head != genesis.head.hex || hb.root != MerkleHash.emptyRoot.hex {
                    report.add(.heartbeatMismatch, "heartbeat manifest \(hb.sequence) of the empty chain does not match its genesis", sequence: hb.sequence)
                }
            } else if hb.treeSize > expected.nextIndex {
                walHeartbeats.append(hb)
            } else if let t = tasks.firstIndex(where: { $0.startIndex < hb.treeSize && hb.treeSize <= $0.startIndex + UInt64($0.loaded.manifest.eventCount) }) {
                taskHeartbeats[t].append(hb)
            }
        }
        // Segments before `segmentsFrom` were read by an earlier run: keep their manifests' word.
        // A shard reads only its own segments.
        let keep = tasks.indices.filter { i in
            tasks[i].loaded.sequence >= options.segmentsFrom && (options.shard?.owns(sequence: tasks[i].loaded.sequence) ?? true)
        }
        if keep.count < tasks.count {
            tasks = keep.map { tasks[$0] }
            taskHeartbeats = keep.map { taskHeartbeats[$0] }
        }
        return Plan(tasks: tasks, taskHeartbeats: taskHeartbeats, walHeartbeats: walHeartbeats, expected: expected, lastTrustedSegment: previousTrusted)
    }

    /// The runner: one window of segment checks (each pure: a task's files in, its findings out)
    /// in parallel, results in chain order.
    private func checkWindow(_ range: Range<Int>, _ plan: Plan) -> [SegmentResult] {
        let box = ResultBox(count: range.count)
        let windowTasks = Array(plan.tasks[range])
        let windowHeartbeats = Array(plan.taskHeartbeats[range])
        DispatchQueue.concurrentPerform(iterations: range.count) { offset in
            box.set(offset, self.verifySegment(windowTasks[offset], heartbeats: windowHeartbeats[offset]))
        }
        return box.values.map { $0! }
    }

    /// The tail: a stopped store ends with a closing manifest; a running one writes heartbeats.
    private func checkTail(_ last: LoadedManifest?, report: inout VerificationReport) {
        guard let last else { return }
        report.lastManifestAt = last.manifest.sealedAt
        guard options.checkTail else { return }
        let interval = Double(max(1, last.manifest.heartbeatIntervalSeconds))
        if !last.manifest.closing, let at = Timestamp.parse(last.manifest.sealedAt),
           options.now.timeIntervalSince(at) > 2 * interval + 60 {
            report.add(.tailGap, "the last manifest was sealed at \(last.manifest.sealedAt), \(Int(options.now.timeIntervalSince(at)))s before \(Timestamp.format(options.now)), beyond twice the heartbeat interval (\(Int(interval))s) and not a closing manifest: later manifests may have been removed",
                       file: "segments/" + last.fileName, sequence: last.sequence)
        }
    }

    /// Only the manifest-level checks (signatures, the manifest chain, checkpoints, key handovers),
    /// without reading any segment: the manifests that may be trusted, in sequence order, and the
    /// findings. For readers (`cat`) that verify each segment as they read it.
    public func checkManifests() -> (trusted: [Manifest], report: VerificationReport) {
        var keys = options.trustedKeys ?? []
        if options.trustedKeys == nil {
            for name in (try? source.list("keys")) ?? [] where name.hasSuffix(".pub") {
                if let bytes = try? source.read("keys/" + name), let key = try? KeyFiles.parsePublicKey(pem: String(decoding: bytes, as: UTF8.self)) {
                    keys.append(key)
                }
            }
        }
        var report = VerificationReport(source: source.name, trust: options.trustedKeys == nil ? "store-keys" : "public-keys", trustedKeyIDs: keys.map(\.keyID))
        if keys.isEmpty { report.add(.noTrustedKey, "no public key to check signatures with") }
        let loaded = loadManifests(keys: keys, report: &report)
        return (loaded.filter(\.trusted).map(\.manifest), report)
    }

    // MARK: Manifests

    private func loadManifests(keys: [Ed25519PublicKey], report: inout VerificationReport) -> [LoadedManifest] {
        let names: [String]
        do { names = try source.list("segments") } catch {
            report.add(.segmentsUnreadable, "cannot list segments: \(error)")
            return []
        }
        let sequences = names.compactMap(Manifest.sequence(ofFileName:)).sorted()
        let stems = Set(sequences.map(Manifest.stem))
        for name in names where !name.hasSuffix(".tmp") {
            let stem = String(name.prefix { $0 != "." })
            if !stems.contains(stem) {
                report.add(.unreferencedFile, "no manifest covers this file (its manifest was deleted, or the file was added)", file: "segments/" + name)
            }
        }
        var loaded = [LoadedManifest]()
        var previous: LoadedManifest?
        var expectedSequence = 1
        // Key rotation: the keys that may sign from here on. A trusted manifest naming `nextKeyID`
        // hands over: from the next manifest only that key signs, and every earlier one is retired.
        var accepted = keys
        var retired = Set<String>()
        for sequence in sequences {
            let file = "segments/" + Manifest.stem(sequence) + ".manifest.json"
            if sequence > expectedSequence {
                report.add(.manifestMissing, "manifests \(expectedSequence)...\(sequence - 1) are missing (deleted?)",
                           file: "segments/" + Manifest.stem(expectedSequence) + ".manifest.json", sequence: expectedSequence)
            }
            expectedSequence = sequence + 1
            guard let bytes = try? source.read(file), let manifest = try? Manifest.decode(bytes) else {
                report.add(.manifestUnreadable, "manifest is missing or not valid JSON", file: file, sequence: sequence)
                continue
            }
            var sound = true
            if manifest.sequence != sequence {
                report.add(.manifestRenamed, "file name says sequence \(sequence) but the manifest says \(manifest.sequence)", file: file, sequence: sequence)
                sound = false
            } else if let problem = manifest.structuralProblem(fileSequence: sequence) {
                report.add(.manifestInvalid, problem, file: file, sequence: sequence)
                sound = false
            }
            var signed = false
            if retired.contains(manifest.keyID) {
                report.add(.retiredKey, "manifest is signed by key \(manifest.keyID.prefix(16))…, retired by an earlier handover: signed after it was replaced (a stolen or kept old key?)",
                           file: file, sequence: sequence)
            } else {
                signed = checkSignature(file: file, sequence: sequence, manifest: manifest, bytes: bytes, keys: accepted, report: &report)
            }
            let expectedPrevious = previous.flatMap { $0.sequence == sequence - 1 ? SHA256.digest($0.bytes).hex : nil }
            if sequence == 1 {
                if manifest.previousManifestSHA256 != nil {
                    report.add(.manifestChainBroken, "the first manifest names a predecessor", file: file, sequence: sequence)
                }
            } else if let expectedPrevious, manifest.previousManifestSHA256 != expectedPrevious {
                report.add(.manifestChainBroken, "previousManifestSHA256 does not match manifest \(sequence - 1) (replaced or forged?)", file: file, sequence: sequence)
            }
            // A manifest already ignored for its key (unknown or retired) has a checkpoint by that key
            // too: calling it invalid as well would name one fact twice.
            let keyIgnored = retired.contains(manifest.keyID) || !accepted.contains { $0.keyID == manifest.keyID }
            checkCheckpoint(sequence: sequence, manifest: sound && signed ? manifest : nil, keys: accepted, reportInvalid: !keyIgnored, report: &report)
            if sound && signed, let next = manifest.nextKeyID {
                if let key = accepted.first(where: { $0.keyID == next }) ?? storeKey(next) {
                    retired.formUnion(accepted.map(\.keyID).filter { $0 != next })
                    accepted = [key]
                    if !report.trustedKeyIDs.contains(next) { report.trustedKeyIDs.append(next) }
                } else {
                    report.add(.nextKeyMissing, "manifest hands over to key \(next.prefix(16))…, whose public key is not in keys/", file: file, sequence: sequence)
                }
            }
            let entry = LoadedManifest(sequence: sequence, manifest: manifest, bytes: bytes, trusted: sound && signed)
            loaded.append(entry)
            previous = entry
        }
        // A file beside a trusted manifest that the manifest does not name (a .jsonl.gz beside a
        // heartbeat, a .nodes where it states no treeNodesFile) is covered by no hash.
        let byStem = Dictionary(loaded.filter(\.trusted).map { (Manifest.stem($0.sequence), $0.manifest) }, uniquingKeysWith: { a, _ in a })
        for name in names where !name.hasSuffix(".tmp") {
            let stem = String(name.prefix { $0 != "." })
            guard let m = byStem[stem] else { continue }
            let named = [stem + ".manifest.json", stem + ".manifest.sig", stem + ".checkpoint", m.file, m.leafHintsFile, m.treeNodesFile].compactMap { $0 }
            if !named.contains(name) && !name.hasPrefix(stem + ".cosignature.") {
                report.add(.unreferencedFile, "manifest \(m.sequence) (\(m.type)) does not name this file: no hash covers it (added?)", file: "segments/" + name, sequence: m.sequence)
            }
        }
        return loaded
    }

    /// The public key `keys/<keyID>.pub` of the store, when its SHA-256 is that key ID (so a
    /// handover signed by a trusted key vouches for it).
    private func storeKey(_ keyID: String) -> Ed25519PublicKey? {
        guard let bytes = try? source.read("keys/" + keyID + ".pub"),
              let key = try? KeyFiles.parsePublicKey(pem: String(decoding: bytes, as: UTF8.self)), key.keyID == keyID else { return nil }
        return key
    }

    /// True when a trusted key's signature over the manifest's exact bytes verifies.
    private func checkSignature(file: String, sequence: Int, manifest: Manifest, bytes: [UInt8], keys: [Ed25519PublicKey], report: inout VerificationReport) -> Bool {
        let sigFile = "segments/" + Manifest.stem(sequence) + ".manifest.sig"
        guard let sigText = try? source.read(sigFile),
              let signature = Base64.decode(String(decoding: sigText, as: UTF8.self).trimmed) else {
            report.add(.signatureMissing, "manifest signature file is missing or unreadable", file: sigFile, sequence: sequence)
            return false
        }
        guard let key = keys.first(where: { $0.keyID == manifest.keyID }) else {
            report.add(.unknownKey, "manifest is signed by key \(manifest.keyID.prefix(16))…, which is not trusted", file: file, sequence: sequence)
            return false
        }
        if !key.isValidSignature(signature, for: bytes) {
            report.add(.badSignature, "manifest signature does not verify: the manifest was altered or forged", file: file, sequence: sequence)
            return false
        }
        return true
    }

    /// Checks the checkpoint's signature, and that it states what `manifest` states (nil: the
    /// manifest is not trusted, so there is nothing to compare with).
    private func checkCheckpoint(sequence: Int, manifest: Manifest?, keys: [Ed25519PublicKey], reportInvalid: Bool = true, report: inout VerificationReport) {
        let file = "segments/" + Manifest.stem(sequence) + ".checkpoint"
        guard let bytes = try? source.read(file) else {
            report.add(.checkpointMissing, "checkpoint is missing", file: file, sequence: sequence)
            return
        }
        do {
            let (checkpoint, _) = try Checkpoint.open(note: String(decoding: bytes, as: UTF8.self), keys: keys)
            guard let manifest else { return }
            if checkpoint.treeSize != manifest.treeSize || checkpoint.rootHash.hex != manifest.treeRoot
                || checkpoint.origin != Checkpoint.origin(node: manifest.node, chainID: manifest.chainID) {
                report.add(.checkpointMismatch, "checkpoint (size \(checkpoint.treeSize)) does not match its manifest (size \(manifest.treeSize))", file: file, sequence: sequence)
            }
        } catch {
            if reportInvalid { report.add(.checkpointInvalid, "checkpoint: \(error)", file: file, sequence: sequence) }
        }
    }

    // MARK: Segments

    struct SegmentTask {
        var loaded: LoadedManifest
        var start: ChainState
        var startIndex: UInt64
        var treeKnown: Bool
    }

    private final class ResultBox: Sendable {
        private let results: Locked<[SegmentResult?]>
        init(count: Int) { results = Locked(Array(repeating: nil, count: count)) }
        func set(_ i: Int, _ v: SegmentResult) { results.withLock { $0[i] = v } }
        var values: [SegmentResult?] { results.withLock { $0 } }
    }

    /// Verifies one sealed segment against its manifest; returns findings and events read.
    /// What one segment's check found: findings, events read, and the redaction markers' commitments (hex).
    typealias SegmentResult = (findings: [Finding], events: UInt64, markers: [String])

    func verifySegment(_ task: SegmentTask, heartbeats: [HeartbeatCheck]) -> SegmentResult {
        let m = task.loaded.manifest
        var report = VerificationReport(source: "", trust: "", trustedKeyIDs: [])
        let manifestFile = "segments/" + task.loaded.fileName
        guard let name = m.file else {
            report.add(.manifestInvalid, "segment manifest names no file", file: manifestFile, sequence: m.sequence)
            return (report.findings, 0, [])
        }
        let file = "segments/" + name
        guard let gz = try? source.read(file) else {
            let recorded = options.shippedElsewhere[file]
            if let recorded, recorded == m.fileSHA256 {
                report.add(.segmentRemoteOnly, "segment data was deleted here by local retention after its upload was confirmed; its events are not verified here: verify the bucket's copy (auditseal verify s3://...)",
                           severity: .warning, file: file, eventIndex: task.startIndex, sequence: m.sequence)
                return (report.findings, 0, [])
            }
            let events = m.eventCount == 0 ? "no events" : "events \(task.startIndex)...\(task.startIndex + UInt64(m.eventCount) - 1)"
            let ledger = recorded.map { " (the shipping ledger's line for it states SHA-256 \($0.prefix(16))…, not the manifest's fileSHA256: it is no record of this file's upload)" } ?? ""
            report.add(.segmentMissing, "segment file with \(events) is missing (deleted?)\(ledger)",
                       file: file, eventIndex: task.startIndex, sequence: m.sequence)
            return (report.findings, 0, [])
        }
        let sha = SHA256()
        let fileModified = gz.count != m.fileSize || sha.hash(gz).hex != m.fileSHA256
        // The common case, streamed: each line hashed as it is decompressed, the segment's data
        // never held whole (a 64 MiB segment per verifying task was the receiver's and the
        // watcher's peak memory). Anything that does not match is read again whole below, to say where.
        if let streamed = streamedCheck(task, gz: gz, heartbeats: heartbeats, using: sha) {
            checkLeafHints(m, report: &report)
            if task.treeKnown { checkTreeNodes(m, computed: streamed.nodes, report: &report) }
            if fileModified {
                report.add(.segmentModified, "segment file bytes differ from the sealed file (size/SHA-256), though its events still match the chain: the file was replaced",
                           file: file, sequence: m.sequence)
            }
            return (report.findings, streamed.events, streamed.markers)
        }
        // Decompress what can be decompressed; a corrupt stream still yields the lines before it.
        let whole = SegmentReader.whole(gz, expectedLines: m.eventCount)
        let data = whole.data
        var lines = whole.lines
        let gzipError = whole.damage
        if let gzipError {
            report.add(.segmentCorrupt, "\(gzipError); checking the \(data.count) bytes before the damage", file: file, sequence: m.sequence)
        }
        // A last line without its newline (the file cut mid-line, or the readable part of a damaged
        // stream ending mid-line) is event-truncated; locating does not call it changed as well.
        var truncatedLine: Int?
        if let trailing = whole.trailing {
            report.add(.eventTruncated, "line \(lines.count + 1) has no newline: the segment was cut inside it", file: file, line: lines.count + 1, sequence: m.sequence)
            truncatedLine = lines.count
            lines.append(trailing)
        }
        var state = task.start
        var nodes = TreeNodes.Collector()
        var hints = [UInt64]()
        hints.reserveCapacity(lines.count)
        var pending = heartbeats.sorted { $0.treeSize < $1.treeSize }[...]
        data.withUnsafeBytes { p in
            for range in lines {
                let leaf = MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: p[range]), using: sha)
                hints.append(leaf.withUnsafeBytes { $0.load(as: UInt64.self) })
                state.append(leaf: leaf, using: sha, nodes: &nodes)
                let size = task.startIndex + UInt64(hints.count)
                while let hb = pending.first, hb.treeSize <= size {
                    pending.removeFirst()
                    if hb.treeSize == size && task.treeKnown && (hb.head != state.head.hex || hb.root != state.tree.root(using: sha).hex) {
                        report.add(.heartbeatMismatch, "heartbeat manifest \(hb.sequence) committed to a different chain at \(hb.treeSize) events than the events now stored",
                                   file: file, line: hints.count, eventIndex: size - 1, sequence: hb.sequence)
                    }
                }
            }
        }
        let chainMatches = lines.count == m.eventCount && state.head.hex == m.chainHashAfter
        let treeMatches = !task.treeKnown || (state.tree.size == m.treeSize && state.tree.root(using: sha).hex == m.treeRoot)
        if chainMatches && treeMatches && gzipError == nil {
            checkLeafHints(m, report: &report)
            if task.treeKnown { checkTreeNodes(m, computed: nodes.bytes, report: &report) }
        }
        if fileModified && chainMatches && treeMatches && gzipError == nil {
            report.add(.segmentModified, "segment file bytes differ from the sealed file (size/SHA-256), though its events still match the chain: the file was replaced",
                       file: file, sequence: m.sequence)
        } else if chainMatches && treeMatches {
            // Every sealed event recomputes; only the gzip data after them is damaged (bytes
            // appended to the sealed stream). segment-corrupt, reported above, is the whole finding.
        } else {
            locate(task: task, file: file, data: data, lines: lines, hints: hints, truncatedLine: truncatedLine, report: &report)
            if !fileModified && report.findings.isEmpty {
                report.add(.manifestMismatch, "the segment file is the sealed one, but the manifest's chain values do not match it (manifest altered?)", file: manifestFile, sequence: m.sequence)
            }
        }
        // Redaction markers (§12): counted, and matched with the vault by the caller.
        let markers = data.withUnsafeBytes { RedactionMarker.find(in: $0).map(\.commitment.hex) }
        return (report.findings, UInt64(lines.count), markers)
    }

    /// A segment whose stream, lines, chain, tree and heartbeats all match, checked one
    /// decompressed chunk at a time (a line split across chunks is carried over): its event count,
    /// tree nodes and redaction markers. Nil at the first thing that does not match.
    private func streamedCheck(_ task: SegmentTask, gz: [UInt8], heartbeats: [HeartbeatCheck], using sha: SHA256)
        -> (events: UInt64, nodes: [UInt8], markers: [String])? {
        let m = task.loaded.manifest
        var state = task.start
        var nodes = TreeNodes.Collector()
        var markers = [String]()
        var count: UInt64 = 0
        var pending = heartbeats.sorted { $0.treeSize < $1.treeSize }[...]
        var matches = true
        do {
            let end = try SegmentReader.forEachLine(gz) { bytes in
                let leaf = MerkleHash.leaf(bytes, using: sha)
                state.append(leaf: leaf, using: sha, nodes: &nodes)
                count += 1
                if RedactionMarker.mayHoldMarkers(bytes) { markers += RedactionMarker.find(in: bytes).map(\.commitment.hex) }
                let size = task.startIndex + count
                while let hb = pending.first, hb.treeSize <= size {
                    pending.removeFirst()
                    if hb.treeSize == size && task.treeKnown && (hb.head != state.head.hex || hb.root != state.tree.root(using: sha).hex) { matches = false }
                }
                return matches
            }
            guard end.complete, end.trailing.isEmpty else { return nil }
        } catch {
            return nil
        }
        guard matches, count == UInt64(m.eventCount), state.head.hex == m.chainHashAfter,
              !task.treeKnown || (state.tree.size == m.treeSize && state.tree.root(using: sha).hex == m.treeRoot) else { return nil }
        return (count, nodes.bytes, markers)
    }

    /// The leaf-hint file is covered by the signed manifest (`leafHintsSHA256`): a changed or
    /// missing one is a finding even when every event checks out.
    private func checkLeafHints(_ m: Manifest, report: inout VerificationReport) {
        guard let name = m.leafHintsFile, let expected = m.leafHintsSHA256 else { return }
        let file = "segments/" + name
        guard let raw = try? source.read(file) else {
            report.add(.leafHintsMissing, "the leaf-hint file the manifest names is missing (deleted?)", file: file, sequence: m.sequence)
            return
        }
        if SHA256.digest(raw).hex != expected {
            report.add(.leafHintsModified, "the leaf-hint file differs from the one sealed (its SHA-256 is not the manifest's leafHintsSHA256)", file: file, sequence: m.sequence)
        }
    }

    /// The tree-node index is covered by the signed manifest (`treeNodesSHA256`) and must hold the
    /// nodes the events form: proofs are built from it.
    private func checkTreeNodes(_ m: Manifest, computed: [UInt8], report: inout VerificationReport) {
        guard let name = m.treeNodesFile, let expected = m.treeNodesSHA256 else { return }
        let file = "segments/" + name
        guard let raw = try? source.read(file) else {
            report.add(.treeNodesMissing, "the tree-node index the manifest names is missing (deleted?)", file: file, sequence: m.sequence)
            return
        }
        let digest = SHA256.digest(raw).hex
        if digest != expected {
            report.add(.treeNodesModified, "the tree-node index differs from the one sealed (its SHA-256 is not the manifest's treeNodesSHA256)", file: file, sequence: m.sequence)
        } else if raw != computed {
            report.add(.treeNodesMismatch, "the sealed tree-node index does not hold the subtree hashes of the segment's events", file: file, sequence: m.sequence)
        }
    }

    /// Names the lines that differ from what was sealed, using the sealed leaf hints.
    private func locate(task: SegmentTask, file: String, data: [UInt8], lines: [Range<Int>], hints: [UInt64], truncatedLine: Int?, report: inout VerificationReport) {
        let m = task.loaded.manifest
        let first = task.startIndex
        let hintsFile = "segments/" + (m.leafHintsFile ?? Manifest.stem(m.sequence) + ".leaves")
        guard let raw = try? source.read(hintsFile), raw.count % 8 == 0 else {
            report.add(.segmentEventsDiffer, "events differ from the sealed chain; the leaf-hint file needed to locate them is missing",
                       file: file, sequence: m.sequence)
            return
        }
        if SHA256.digest(raw).hex != m.leafHintsSHA256 {
            report.add(.leafHintsModified, "the leaf-hint file was altered too; the locations below are best effort", file: hintsFile, sequence: m.sequence)
        }
        let expected = raw.withUnsafeBytes { p in (0..<(raw.count / 8)).map { p.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
        func auditID(_ line: Int) -> String? {
            guard let batch = try? EventScanner(mode: .stream).scan(Array(data[lines[line]])), batch.count == 1 else { return nil }
            return batch.auditID(0)
        }
        let differences = LineAlignment.differences(actual: hints, expected: expected)
        for d in differences {
            switch d {
            case .changed(let line, _) where line == truncatedLine:
                continue  // event-truncated names it
            case .changed(let line, let k):
                report.add(.eventChanged, "line \(line + 1) differs from the event sealed there", file: file, line: line + 1,
                           eventIndex: first + UInt64(k), auditID: auditID(line), sequence: m.sequence)
            case .inserted(let line):
                report.add(.eventInserted, "line \(line + 1) was not part of the sealed segment", file: file, line: line + 1,
                           auditID: auditID(line), sequence: m.sequence)
            case .deleted(let k):
                report.add(.eventDeleted, "event \(first + UInt64(k)) (sealed at line \(k + 1)) is missing", file: file, line: k + 1,
                           eventIndex: first + UInt64(k), sequence: m.sequence)
            case .duplicated(let line, let k):
                report.add(.eventDuplicated, "line \(line + 1) repeats event \(first + UInt64(k))", file: file, line: line + 1,
                           eventIndex: first + UInt64(k), auditID: auditID(line), sequence: m.sequence)
            case .moved(let line, let k):
                report.add(.eventReordered, "line \(line + 1) holds event \(first + UInt64(k)), sealed at line \(k + 1)", file: file, line: line + 1,
                           eventIndex: first + UInt64(k), auditID: auditID(line), sequence: m.sequence)
            }
        }
        if differences.isEmpty && truncatedLine == nil {
            report.add(.segmentEventsDiffer, "events do not reproduce the manifest's chain hash, though each line matches its sealed hint",
                       file: file, sequence: m.sequence)
        }
    }

    // MARK: Write-ahead segments

    private func verifyWriteAhead(state: inout ChainState, heartbeats: [HeartbeatCheck], ignoredAtTail: [Int], report: inout VerificationReport, sha: SHA256) {
        let ignored = ignoredAtTail.map(String.init).joined(separator: ", ")
        var unverifiedThrough: UInt64 = 0  // events before this index were reported unverified at the tail
        var pending = heartbeats.sorted { $0.treeSize < $1.treeSize }[...]
        func checkHeartbeats(at size: UInt64, file: String?) {
            while let hb = pending.first, hb.treeSize <= size {
                pending.removeFirst()
                if hb.treeSize == size && (hb.head != state.head.hex || hb.root != state.tree.root(using: sha).hex) {
                    report.add(.heartbeatMismatch, "heartbeat manifest \(hb.sequence) committed to a different chain at \(hb.treeSize) events than the events now stored",
                               file: file, eventIndex: size == 0 ? nil : size - 1, sequence: hb.sequence)
                }
            }
        }
        checkHeartbeats(at: state.nextIndex, file: nil)
        let names = ((try? source.list("wal")) ?? []).filter { $0.hasSuffix(".wal") }
        // The first index each header states (nil when unreadable: judged when the file is read),
        // for the two rules of a live directory (FORMAT.md §4).
        let firsts: [UInt64?] = names.map { name in
            source.localPath("wal/" + name).flatMap { try? WriteAheadReader(path: $0).read(recordLimit: 0) { _, _, _ in }.header.firstIndex }
        }
        // Rule 2 comes first: a last segment holding no record whose first index lies inside its
        // predecessor's records was created by a rename whose directory fsync failed while appends
        // went on in the predecessor; recovery removes it, and the predecessor is read whole.
        let lastIsEmpty = names.count > 1 && (source.localPath("wal/" + names[names.count - 1]).flatMap {
            try? WriteAheadReader(path: $0).read(recordLimit: 1) { _, _, _ in }.recordCount == 0 } ?? false)
        var skipLast = false
        for (i, name) in names.enumerated() {
            let relative = "wal/" + name
            if skipLast && i == names.count - 1 {
                report.add(.walTornTail, "an empty write-ahead segment starting inside its predecessor's records: its creation failed (recovery removes it)",
                           severity: .warning, file: relative)
                continue
            }
            guard let path = source.localPath(relative) else { continue }
            do {
                var damaged = false
                let before = (index: state.nextIndex, head: state.head.hex, frontier: state.tree.hashes.map(\.hex))
                // Rule 1: a segment is read only up to the next one's first index; records past it
                // are the unacknowledged tail of a failed write (recovery keeps them as .broken).
                var limit: Int?
                let beforeEmptyLast = lastIsEmpty && i == names.count - 2
                if !beforeEmptyLast, i + 1 < names.count, let this = firsts[i], let next = firsts[i + 1], next > this { limit = Int(clamping: next - this) }
                let outcome = try WriteAheadReader(path: path).read(recordLimit: limit) { _, _, leaf in
                    state.append(leaf: leaf, using: sha)
                    report.openEvents += 1
                    checkHeartbeats(at: state.nextIndex, file: relative)
                }
                // The write-ahead B bits are unsigned: backfilledEvents counts the signed marks only (§11).
                var size = stat()
                if let limit, outcome.recordCount == limit, stat(path, &size) == 0, Int(size.st_size) > outcome.validLength {
                    report.add(.walTornTail, "records past the next write-ahead segment's first index: the unacknowledged tail of a failed write (recovery keeps it aside)",
                               severity: .warning, file: relative)
                }
                // Header continuity is checked after replay against the start it claims.
                let start = outcome.header.firstIndex
                let expectedStart = state.nextIndex - UInt64(outcome.recordCount)
                if beforeEmptyLast, let emptyFirst = firsts[i + 1], emptyFirst >= start, emptyFirst < state.nextIndex { skipLast = true }
                if start > expectedStart && !ignoredAtTail.isEmpty {
                    damaged = true
                    report.add(.eventsUnverified, "events \(expectedStart)...\(start - 1) before this write-ahead segment are committed to only by manifest(s) \(ignored), which failed verification",
                               file: relative, eventIndex: expectedStart)
                    unverifiedThrough = max(unverifiedThrough, start)
                } else if start != expectedStart {
                    damaged = true
                    report.add(start > expectedStart ? .eventsMissing : .eventsOverlap,
                               "write-ahead segment starts at event \(start), but the chain continues at \(expectedStart)",
                               file: relative, eventIndex: expectedStart)
                }
                // The header states the chain it continues and the chain state at its first event: both
                // must be this chain's (its CRC only shows the header was not damaged, not whose it is).
                if let chainID = report.chainID, outcome.header.chainID != chainID {
                    damaged = true
                    report.add(.walHeaderMismatch, "write-ahead header names chain \(outcome.header.chainID), not this store's \(chainID)", file: relative)
                } else if !damaged && start == before.index
                            && (outcome.header.chainHashBefore != before.head || outcome.header.treeFrontier != before.frontier) {
                    damaged = true
                    report.add(.walHeaderMismatch, "write-ahead header's chain state before event \(start) (chainHashBefore, treeFrontier) is not the chain's there",
                               file: relative, eventIndex: start)
                }
                if !damaged, let damage = outcome.damage {
                    switch damage {
                    case .truncatedRecord:
                        report.add(.walTornTail, "\(damage): an unacknowledged write in progress or cut by a crash (recovery removes it)", severity: .warning, file: relative)
                    default:
                        report.add(.walDamaged, "\(damage): an acknowledged record no longer matches its checksum", file: relative)
                    }
                }
            } catch {
                report.add(.walUnreadable, "\(error)", file: relative)
            }
        }
        for hb in pending where !options.heartbeatsMayRunAhead {
            if hb.treeSize <= unverifiedThrough { continue }  // said above, for the same events
            if ignoredAtTail.contains(where: { $0 < hb.sequence }) {
                report.add(.eventsUnverified, "heartbeat manifest \(hb.sequence) committed to \(hb.treeSize) events; those after \(state.nextIndex) are committed to only by manifest(s) \(ignored), which failed verification",
                           eventIndex: state.nextIndex, sequence: hb.sequence)
                continue
            }
            report.add(.eventsMissing, "heartbeat manifest \(hb.sequence) committed to \(hb.treeSize) events, but only \(state.nextIndex) are stored: events at the tail were removed",
                       eventIndex: state.nextIndex, sequence: hb.sequence)
        }
    }
}
