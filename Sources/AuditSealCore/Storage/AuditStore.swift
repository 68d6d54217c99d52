#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What one `append` stored.
public struct AppendResult: Sendable, Equatable {
    /// Events newly stored.
    public var stored: Int
    /// Events dropped because an event with the same auditID and stage is in the duplicate window.
    public var duplicates: Int
    /// Index of the first stored event, when any was stored.
    public var firstIndex: UInt64?

    public init(stored: Int, duplicates: Int, firstIndex: UInt64?) {
        self.stored = stored
        self.duplicates = duplicates
        self.firstIndex = firstIndex
    }
}

/// A snapshot of the store's progress, for health checks and metrics.
public struct StoreStatus: Sendable {
    public var nextIndex: UInt64
    public var chainHead: String
    public var manifestSequence: Int
    public var lastManifestAt: Date?
    public var segmentsSealed: Int
    public var sealFailures: Int
    public var lastError: String?
    public var openSegmentBytes: Int
    /// Events the latest signed manifest commits to.
    public var committedTreeSize: UInt64
}

/// The sealed, hash-chained event store of one node.
///
/// `append` chains a batch of events and returns once they are fsync'd; batches that arrive while
/// an fsync runs share the next one (group commit). One committer thread owns the open write-ahead
/// segment; one sealer thread turns closed segments into signed gzip files and writes heartbeats,
/// so sealing never holds up appends for longer than creating the next segment.
public final class AuditStore: @unchecked Sendable {  // every mutable field is read and written under `condition` (the committer and sealer threads wait on it)
    public let configuration: StoreConfiguration
    public let layout: StoreLayout
    public let identity: ChainIdentity
    /// What recovery did when the store was opened (empty after a clean stop).
    public let recoveryNotes: [String]

    private let condition = NSCondition()
    private let directoryLock: DirectoryLock
    private let sealer: Sealer

    // Committer state (guarded by `condition`).
    private var pending: [(batch: EventBatch, continuation: CheckedContinuation<AppendResult, Error>)] = []
    private var rotationRequests: [(closing: Bool, continuation: CheckedContinuation<Void, Error>)] = []
    private var active: ActiveSegment
    private var durable: ChainState
    private var duplicates: DuplicateFilter
    private var stopping = false
    private var committerDone = false
    /// After a failed attempt to open the next write-ahead segment, the next attempt waits until
    /// then: a disk that takes no new file must not turn the committer into a busy loop.
    private var rotationRetryAt = Date.distantPast

    // Sealer state (guarded by `condition`).
    private var sealQueue: [(path: String, leaves: [SHA256Digest]?, closing: Bool, continuations: [CheckedContinuation<Void, Error>], limit: Int?)] = []
    /// Leaf hashes of the events in the open segment, handed to the sealer so that it need not hash
    /// them again (nil after recovery: the sealer then hashes what it reads).
    private var activeLeaves: [SHA256Digest]? = []
    private var heartbeatRequests: [(closing: Bool, continuation: CheckedContinuation<Void, Error>)] = []
    private var handoverRequests: [(key: Ed25519PrivateKey, continuation: CheckedContinuation<Void, Error>)] = []
    private var tip: ManifestTip
    private var sealerDone = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private let openedAt = Date()
    private var currentKeyID: String
    /// When each commit's first event was acknowledged (recovered events count from the open).
    private var arrivals = ArrivalLog()
    private var segmentsSealed = 0
    private var sealFailures = 0
    /// Told of each manifest made durable (guarded by `condition`; see `observeManifests`).
    private var manifestObserver: (@Sendable (_ sequence: Int, _ segment: Bool) -> Void)?
    /// Followers of `committedSizes()`, by subscription number.
    private var commitFollowers = [Int: AsyncStream<UInt64>.Continuation]()
    private var manifestFollowers = [Int: AsyncStream<Int>.Continuation]()
    private var nextFollower = 0
    /// The latest unresolved problems (readiness): of the write-ahead log, and of sealing; each
    /// is cleared by the next success of its kind.
    private var writeError: String?
    private var sealError: String?
    private var lastError: String? { writeError ?? sealError }

    /// Opens (creating if needed) a data directory, recovering it after any stop, and starts the
    /// committer and sealer threads. Fails when another process holds the directory.
    public init(configuration: StoreConfiguration, signingKey: Ed25519PrivateKey) throws {
        self.configuration = configuration
        self.layout = StoreLayout(root: configuration.dataDirectory)
        self.currentKeyID = signingKey.publicKey.keyID
        try FileIO.makeDirectories(layout.root)
        directoryLock = try DirectoryLock(layout: layout)
        // A failed start releases the lock with the half-made store (DirectoryLock ends with it).
        let recovered = try Recovery.recover(layout: layout, configuration: configuration)
        identity = recovered.identity
        active = recovered.active
        durable = recovered.durable
        duplicates = recovered.duplicates
        tip = recovered.tip
        recoveryNotes = recovered.notes
        sealQueue = recovered.closedSegments.map { ($0, nil, false, [], nil) }
        activeLeaves = recovered.active.eventCount == 0 ? [] : nil
        try Self.checkSigningKey(signingKey.publicKey, layout: layout, tip: recovered.tip)
        sealer = Sealer(layout: layout, configuration: configuration, key: signingKey, identity: recovered.identity)
        try Self.rememberPublicKey(signingKey.publicKey, layout: layout)
        if recovered.tip.closing {
            // The last run ended with "nothing more is due". Events taken from now on must not
            // sit behind that promise, where cutting them would leave no trace: before the first
            // append, a heartbeat says more is coming (docs/FORMAT.md §4).
            tip = try sealer.heartbeat(after: recovered.tip, durable: recovered.durable, closing: false)
        }
        // Events recovered beyond the last manifest were acknowledged before this start: count them from now.
        if durable.nextIndex > tip.committedTreeSize { arrivals.record(index: tip.committedTreeSize, at: openedAt) }
        startThread(name: "auditseal-commit") { [self] in commitLoop() }
        startThread(name: "auditseal-seal") { [self] in sealLoop() }
    }


    /// Chains and durably stores the batch's events (after dropping duplicates); returns once they
    /// are fsync'd. On failure nothing of the batch is stored and the store stays consistent.
    public func append(_ batch: EventBatch) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else {
                continuation.resume(throwing: AuditSealError(.shuttingDown, "the store is shutting down"))
                return
            }
            pending.append((batch, continuation))
            condition.broadcast()
        }
    }

    /// Seals the open segment now (if it holds events) and returns once its manifest is durable.
    public func sealNow() async throws {
        try await requestRotation(closing: false)
    }

    /// The key that signs manifests now.
    public var signingKeyID: String {
        condition.lock()
        defer { condition.unlock() }
        return currentKeyID
    }

    /// Rotates the signing key: a heartbeat signed by the current key names `next`'s key ID, and
    /// `next` signs every later manifest (docs/FORMAT.md §7). Returns once that heartbeat is durable.
    public func rotateKey(to next: Ed25519PrivateKey) async throws {
        guard next.publicKey.keyID != signingKeyID else { return }
        try await request { handoverRequests.append((next, $0)) }
        setCurrentKeyID(next.publicKey.keyID)
    }

    private func setCurrentKeyID(_ keyID: String) {
        condition.lock()
        currentKeyID = keyID
        condition.unlock()
    }

    /// Writes a signed heartbeat manifest now, committing to every durable event.
    public func heartbeatNow() async throws {
        try await request { heartbeatRequests.append((false, $0)) }
    }

    /// Stops accepting appends, seals the open segment with a closing manifest, and stops the threads.
    /// A failing seal is tried five times (a transient I/O error must not turn a clean stop into
    /// a crash); after that the error is thrown, and the next start seals what is left.
    public func close() async throws {
        var failure: Error?
        for attempt in 0..<5 {
            do {
                try await requestRotation(closing: true)
                failure = nil
                break
            } catch {
                failure = error
                if (error as? AuditSealError)?.code == .shuttingDown { break }
                try? await Task.sleep(for: .milliseconds(100 << attempt))
            }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            beginStop(notifying: continuation)
        }
        if let failure { throw failure }
    }

    private func beginStop(notifying continuation: CheckedContinuation<Void, Never>) {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        if sealerDone { continuation.resume(); return }
        stopWaiters.append(continuation)
        condition.broadcast()
    }

    /// A snapshot of progress.
    public var status: StoreStatus {
        condition.lock()
        defer { condition.unlock() }
        return StoreStatus(nextIndex: durable.nextIndex, chainHead: durable.head.hex, manifestSequence: tip.sequence,
                           lastManifestAt: tip.sealedAt, segmentsSealed: segmentsSealed, sealFailures: sealFailures,
                           lastError: lastError, openSegmentBytes: active.durableLength, committedTreeSize: tip.committedTreeSize)
    }

    /// When the oldest acknowledged event with an index of at least `index` was acknowledged (nil
    /// when every event is below it): with the tree size a manifest commits to, how long events
    /// have waited for it. Marks wholly before `forgetBefore` are dropped.
    public func oldestEventTime(from index: UInt64, forgetBefore: UInt64? = nil) -> Date? {
        condition.lock()
        defer { condition.unlock() }
        if let forgetBefore { arrivals.forget(before: forgetBefore) }
        return arrivals.oldestArrival(from: index, end: durable.nextIndex)
    }

    private func requestRotation(closing: Bool) async throws {
        try await request { rotationRequests.append((closing, $0)) }
    }

    /// Queues a request for the committer or sealer (under the lock) and waits for its completion.
    private func request(_ enqueue: (CheckedContinuation<Void, Error>) -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else {
                continuation.resume(throwing: AuditSealError(.shuttingDown, "the store is shutting down"))
                return
            }
            enqueue(continuation)
            condition.broadcast()
        }
    }

    private func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.name = name
        thread.start()
    }

    // MARK: Committer

    private func commitLoop() {
        let sha = SHA256()
        var headers = [UInt8]()  // record headers; the lines are written in place from the batches
        headers.reserveCapacity(1 << 16)
        condition.lock()
        while true {
            while pending.isEmpty && rotationRequests.isEmpty && !stopping && !segmentIsOld() {
                _ = condition.wait(until: Date().addingTimeInterval(min(1, configuration.segmentMaxAge)))
            }
            if pending.isEmpty && rotationRequests.isEmpty && stopping { break }
            let group = pending
            pending.removeAll()
            var state = durable
            let filter = duplicates
            // A file with a failed write takes nothing more: continue in a new one first (under
            // the lock already held, so the common path pays nothing for it).
            if active.failed && (!group.isEmpty || segmentIsOld()) { abandonFailedSegment() }
            let unwritable = active.failed ? "the write-ahead log cannot take writes: \(lastError ?? "a failed write")" : nil
            condition.unlock()

            // Chain the whole group outside the lock; appends arriving meanwhile wait for the next fsync.
            headers.removeAll(keepingCapacity: true)
            var pieces = [RecordPiece]()
            var results = [AppendResult]()
            results.reserveCapacity(group.count)
            var newKeys = [DuplicateFilter.Key]()
            var groupLeaves = [SHA256Digest]()
            var groupKeys = Set<DuplicateFilter.Key>()
            for (number, (batch, _)) in group.enumerated() {
                var result = AppendResult(stored: 0, duplicates: 0, firstIndex: nil)
                var fresh = [Range<Int>]()
                fresh.reserveCapacity(batch.count)
                for i in 0..<batch.count {
                    let key = batch.duplicateKey(i)
                    if filter.contains(key) || !groupKeys.insert(key).inserted {
                        result.duplicates += 1
                        continue
                    }
                    newKeys.append(key)
                    fresh.append(batch.events[i].line)
                }
                batch.lines.withUnsafeBytes { lines in
                    let leaves = Self.leaves(of: batch.lines, lines, ranges: fresh, using: sha)
                    for (n, range) in fresh.enumerated() {
                        if result.firstIndex == nil { result.firstIndex = state.nextIndex }
                        WriteAheadFormat.appendRecordHeader(index: state.nextIndex, length: range.count, leaf: leaves[n], backfilled: batch.backfilled, to: &headers)
                        pieces.append(RecordPiece(batch: number, line: range))
                        state.append(leaf: leaves[n], using: sha)
                    }
                    groupLeaves += leaves
                }
                result.stored = fresh.count
                results.append(result)
            }
            var failure: Error?
            if !pieces.isEmpty, let unwritable { failure = AuditSealError.storage(unwritable) }
            if !pieces.isEmpty && failure == nil {
                do {
                    try active.appendDurably(headers: headers, lines: group.map(\.batch.lines), pieces: pieces)
                } catch {
                    failure = error
                }
            }

            condition.lock()
            if failure == nil {
                if state.nextIndex > durable.nextIndex { arrivals.record(index: durable.nextIndex, at: Date()) }
                durable = state
                if !pieces.isEmpty { writeError = nil }
                if !pieces.isEmpty { for follower in commitFollowers.values { follower.yield(durable.nextIndex) } }
                for key in newKeys { duplicates.insert(key) }
                activeLeaves?.append(contentsOf: groupLeaves)
            }
            for (i, entry) in group.enumerated() {
                if let failure { entry.continuation.resume(throwing: failure) } else { entry.continuation.resume(returning: results[i]) }
            }
            if failure == nil {
                rotateIfNeeded()
            } else if active.failed {
                writeError = "write-ahead write failed: \(failure!)"
                abandonFailedSegment()
            }
        }
        committerDone = true
        // Finished outside the lock: a stream's termination handler takes it.
        let ending = Array(commitFollowers.values)
        commitFollowers = [:]
        condition.broadcast()
        condition.unlock()
        for follower in ending { follower.finish() }
    }

    /// Leaf hashes of the ranges. For mapped (spooled) lines, in windows of 32 MiB whose pages are
    /// dropped from the resident set once hashed; the writev reads them back the same way.
    private static func leaves(of bytes: EventBytes, _ lines: UnsafeRawBufferPointer, ranges: [Range<Int>], using sha: SHA256) -> [SHA256Digest] {
        guard bytes.isMapped else { return LeafHasher.leaves(of: lines, ranges: ranges, using: sha) }
        var out = [SHA256Digest]()
        out.reserveCapacity(ranges.count)
        var first = 0
        while first < ranges.count {
            var last = first + 1
            while last < ranges.count && ranges[last].upperBound - ranges[first].lowerBound <= 32 << 20 { last += 1 }
            out += LeafHasher.leaves(of: lines, ranges: Array(ranges[first..<last]), using: sha)
            bytes.releasePages(before: ranges[last - 1].upperBound)
            first = last
        }
        return out
    }

    /// The open segment holds events, is past its age, and no failed attempt to replace it is
    /// waiting out its pause.
    private func segmentIsOld() -> Bool {
        guard active.eventCount > 0 else { return false }
        let now = Date()
        return now.timeIntervalSince(active.openedAt) >= configuration.segmentMaxAge && now >= rotationRetryAt
    }

    /// Queues a segment for the sealer; a segment already queued (a closing seal that could not
    /// open a next segment, then abandoned) gets the new waiters instead of a second job.
    private func queueSeal(path: String, leaves: [SHA256Digest]?, closing: Bool, continuations: [CheckedContinuation<Void, Error>], limit: Int?) {
        if let i = sealQueue.firstIndex(where: { $0.path == path }) {
            sealQueue[i].continuations += continuations
            sealQueue[i].closing = sealQueue[i].closing || closing
            return
        }
        sealQueue.append((path, leaves, closing, continuations, limit))
    }

    /// Closes the active segment and hands it to the sealer when it is full, old, or asked for.
    /// Called with the lock held.
    private func rotateIfNeeded() {
        let requests = rotationRequests
        rotationRequests.removeAll()
        let full = active.durableLength >= configuration.segmentMaxBytes
        guard full || segmentIsOld() || !requests.isEmpty else { return }
        let closing = requests.contains { $0.closing }
        if active.failed && sealQueue.contains(where: { $0.path == active.path }) {
            // Already queued by a closing seal that could not open a next segment: wait for that seal.
            queueSeal(path: active.path, leaves: nil, closing: closing, continuations: requests.map(\.continuation), limit: nil)
            condition.broadcast()
            return
        }
        if active.eventCount == 0 {
            // Nothing to seal: a closing request still gets a signed closing heartbeat.
            for request in requests {
                if request.closing { heartbeatRequests.append((true, request.continuation)) } else { request.continuation.resume() }
            }
            condition.broadcast()
            return
        }
        do {
            let next = try ActiveSegment.create(layout: layout, state: durable, chainID: identity.chainID)
            queueSeal(path: active.path, leaves: activeLeaves, closing: closing, continuations: requests.map(\.continuation), limit: nil)
            activeLeaves = []
            active = next
            writeError = nil
        } catch {
            writeError = "cannot open a new write-ahead segment: \(error)"
            rotationRetryAt = Date().addingTimeInterval(1)
            if closing {
                // Stopping: seal what is durable here without a next segment (the disk may be
                // failing); nothing more is written to this file.
                queueSeal(path: active.path, leaves: activeLeaves, closing: true, continuations: requests.map(\.continuation), limit: active.eventCount)
                activeLeaves = []
                active.stopAppends()
            } else {
                for request in requests { request.continuation.resume(throwing: error) }
            }
        }
        condition.broadcast()
    }

    /// After a failed write or fsync on the open segment: its durable records (all acknowledged)
    /// go to the sealer, read up to their count and no further, and appends continue in a new
    /// segment that starts after them. The failed file is never synced again. When the new file
    /// cannot be created either, the failed one stays and every append answers an error (503)
    /// until it can. Called with the lock held.
    private func abandonFailedSegment() {
        guard active.failed else { return }
        do {
            let next = try ActiveSegment.create(layout: layout, state: durable, chainID: identity.chainID)
            if active.eventCount > 0 {
                // Same name only when it held nothing: then the new file replaced it by rename.
                queueSeal(path: active.path, leaves: activeLeaves, closing: false, continuations: [], limit: active.eventCount)
            }
            activeLeaves = []
            active = next
            writeError = nil
            condition.broadcast()
        } catch {
            writeError = "a write-ahead write failed and no new write-ahead segment can be created: \(error)"
            rotationRetryAt = Date().addingTimeInterval(1)
        }
    }

    // MARK: Sealer

    private func sealLoop() {
        var failedWhileStopping = 0
        condition.lock()
        while true {
            while sealQueue.isEmpty && heartbeatRequests.isEmpty && handoverRequests.isEmpty && !(stopping && committerDone) && !heartbeatDue() {
                let soon = Date().addingTimeInterval(1)
                _ = condition.wait(until: min(nextHeartbeat() ?? soon, soon))
            }
            if sealQueue.isEmpty && heartbeatRequests.isEmpty && stopping && committerDone { break }
            let currentTip = tip
            if let job = sealQueue.first {
                condition.unlock()
                let outcome = Result { try sealer.seal(walPath: job.path, knownLeaves: job.leaves, recordLimit: job.limit, after: currentTip, closing: job.closing) }
                condition.lock()
                // Waiters may have joined the job while it was being sealed.
                finishSealJob(outcome, continuations: sealQueue[0].continuations, isSegment: true)
                if case .success = outcome { sealQueue.removeFirst() } else {
                    sealQueue[0].continuations = []  // already told of the failure
                    // Nothing behind it can be written before it (manifests are chained): whoever
                    // waits for a later seal, a heartbeat or a handover hears of the failure now
                    // rather than waiting for a disk that may not come back (a stop asks again).
                    if case .failure(let error) = outcome { failWaitersBehindFailedSeal(error) }
                    // Stopping: a few more tries, then leave it to the next start (it stays a
                    // write-ahead segment, recovered and sealed then).
                    if stopping && committerDone {
                        failedWhileStopping += 1
                        if failedWhileStopping >= 5 { break }
                    }
                    // Keep the segment queued; retry after a pause instead of spinning.
                    _ = condition.wait(until: Date().addingTimeInterval(1))
                }
                continue
            }
            if !handoverRequests.isEmpty {
                // Key rotation: the current key hands over to the next, which signs from here on.
                let request = handoverRequests.removeFirst()
                let state = durable
                condition.unlock()
                let outcome = Result { () throws -> ManifestTip in
                    try Self.rememberPublicKey(request.key.publicKey, layout: layout)
                    return try sealer.handOver(to: request.key, after: currentTip, durable: state)
                }
                condition.lock()
                finishSealJob(outcome, continuations: [request.continuation], isSegment: false)
                continue
            }
            // A heartbeat: asked for by a closing request, or due by the clock.
            let closing = heartbeatRequests.contains { $0.closing }
            let requests = heartbeatRequests
            heartbeatRequests.removeAll()
            let state = durable
            condition.unlock()
            let outcome = Result { try sealer.heartbeat(after: currentTip, durable: state, closing: closing) }
            condition.lock()
            finishSealJob(outcome, continuations: requests.map(\.continuation), isSegment: false)
        }
        sealerDone = true
        directoryLock.release()  // another process may open the directory now
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters.removeAll()
        // Finished outside the lock: a stream's termination handler takes it.
        let ending = Array(manifestFollowers.values)
        manifestFollowers = [:]
        condition.broadcast()
        condition.unlock()
        for follower in ending { follower.finish() }
    }

    /// A heartbeat is due an interval after the latest manifest, unless that manifest is a closing
    /// one and nothing came after it: a stop's closing seal must stay the last word, however long
    /// the stop takes (found under ThreadSanitizer, where a slow stop let a due heartbeat follow it).
    private func heartbeatDue() -> Bool {
        guard let next = nextHeartbeat() else { return false }
        return Date() >= next
    }

    /// When the next heartbeat is due; nil while a closing manifest with nothing after it stands
    /// (the sealer then waits in one-second steps, never in a busy loop on a deadline long past).
    private func nextHeartbeat() -> Date? {
        if tip.closing && durable.nextIndex == tip.committedTreeSize { return nil }
        return (tip.sealedAt ?? openedAt).addingTimeInterval(configuration.heartbeatInterval)
    }

    /// Called with the lock held, after the first queued segment failed to seal.
    private func failWaitersBehindFailedSeal(_ error: Error) {
        for i in sealQueue.indices.dropFirst() {
            for c in sealQueue[i].continuations { c.resume(throwing: error) }
            sealQueue[i].continuations = []
        }
        for request in heartbeatRequests { request.continuation.resume(throwing: error) }
        heartbeatRequests.removeAll()
        for request in handoverRequests { request.continuation.resume(throwing: error) }
        handoverRequests.removeAll()
    }

    /// The chain's durable size (events acknowledged) now and after each commit that grows it, the
    /// newest only: a follower (a forwarding sink) reads the events themselves from the files,
    /// catching up from sealed segments and the write-ahead log, so it may lag by hours. Ends when
    /// the store closes.
    public func committedSizes() -> AsyncStream<UInt64> {
        follow { id, continuation in
            guard !committerDone else { return false }
            commitFollowers[id] = continuation
            continuation.yield(durable.nextIndex)
            return true
        }
    }

    /// The newest manifest's sequence now and after each manifest the store makes durable (a
    /// sealed segment or a heartbeat), the newest only: shipping, witness submission and
    /// background verification follow it instead of listing the data directory. Ends when the
    /// sealer stops (after the closing manifest).
    public func sealedManifests() -> AsyncStream<Int> {
        follow { id, continuation in
            guard !sealerDone else { return false }
            manifestFollowers[id] = continuation
            continuation.yield(tip.sequence)
            return true
        }
    }

    /// A newest-only stream: `register` runs under the store's lock (it records the continuation
    /// and yields the current value, or returns false when that stream has ended: it finishes at once).
    private func follow<T: Sendable>(_ register: (_ id: Int, _ continuation: AsyncStream<T>.Continuation) -> Bool) -> AsyncStream<T> {
        let (stream, continuation) = AsyncStream<T>.makeStream(bufferingPolicy: .bufferingNewest(1))
        condition.lock()
        let id = nextFollower
        nextFollower += 1
        let registered = register(id, continuation)
        condition.unlock()
        guard registered else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.condition.lock()
            self.commitFollowers[id] = nil
            self.manifestFollowers[id] = nil
            self.condition.unlock()
        }
        return stream
    }

    /// `observer` is told of every manifest the store makes durable from now on (its sequence, and
    /// whether it sealed a segment), on the sealer's thread with the store's lock held: it must
    /// return at once and never call into the store.
    public func observeManifests(_ observer: @escaping @Sendable (_ sequence: Int, _ segment: Bool) -> Void) {
        condition.lock()
        manifestObserver = observer
        condition.unlock()
    }

    private func finishSealJob(_ outcome: Result<ManifestTip, Error>, continuations: [CheckedContinuation<Void, Error>], isSegment: Bool) {
        switch outcome {
        case .success(let newTip):
            tip = newTip
            sealError = nil
            if isSegment { segmentsSealed += 1 }
            manifestObserver?(newTip.sequence, isSegment)
            for follower in manifestFollowers.values { follower.yield(newTip.sequence) }
            for c in continuations { c.resume() }
        case .failure(let error):
            sealFailures += 1
            sealError = "sealing failed: \(error)"
            for c in continuations { c.resume(throwing: error) }
        }
    }

    /// Only the key that signed the latest manifest, or the one it handed over to, may go on
    /// signing: any other would break the chain of keys a verifier follows from the first.
    private static func checkSigningKey(_ key: Ed25519PublicKey, layout: StoreLayout, tip: ManifestTip) throws {
        guard tip.sequence > 0 else { return }
        let latest = try layout.manifest(tip.sequence)
        let expected = latest.nextKeyID ?? latest.keyID
        guard key.keyID == expected else {
            // Was it this store's key once, handed over since? (Only read on this error path.)
            for sequence in try layout.manifestSequences().reversed() {
                let manifest = try layout.manifest(sequence)
                if manifest.keyID == key.keyID, manifest.nextKeyID != nil || sequence < tip.sequence {
                    throw AuditSealError.keys("the signing key \(key.keyID.prefix(16))… was retired by a handover after manifest \(sequence); the store is now signed by key \(expected.prefix(16))…: configure that key")
                }
            }
            throw AuditSealError.keys("\(layout.root) is signed by key \(expected.prefix(16))…, not by the configured key \(key.keyID.prefix(16))…; to change keys, hand over with `auditseal rotate-key` while the old key is still configured")
        }
    }

    private static func rememberPublicKey(_ key: Ed25519PublicKey, layout: StoreLayout) throws {
        let path = layout.keysDirectory + "/" + key.keyID + ".pub"
        if !FileIO.exists(path) {
            try FileIO.writeAtomically(path: path, bytes: Array(KeyFiles.publicKeyPEM(key).utf8), mode: 0o444)
        }
    }
}
