#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import Dispatch

/// The committer: the one thread that writes the write-ahead log. It owns the open segment, the
/// chain state and the duplicate filter; batches that arrive while an fsync runs share the next
/// one (group commit). A full, old or requested segment is cut on this thread without any lock
/// an append needs (the next file comes from the segment pipeline) and handed to the sealer.
final class Committer: @unchecked Sendable {  // the open segment, chain state and duplicate filter are used on the committer thread alone (after init); what other threads touch is in `shared`
    private struct Shared {
        var pending: [(batch: EventBatch, continuation: CheckedContinuation<AppendResult, Error>)] = []
        var rotationRequests: [(closing: Bool, continuation: CheckedContinuation<Void, Error>)] = []
        var stopping = false
        /// Copies for status and followers, updated after each commit.
        var durable: ChainState
        var openSegmentBytes: Int
        /// The latest unresolved write-ahead problem (readiness), cleared by the next success.
        var writeError: String?
        /// When each commit's first event was acknowledged (recovered events count from the open).
        var arrivals = ArrivalLog()
        var followers = NewestValueFollowers<UInt64>()
    }

    private let configuration: StoreConfiguration
    private let layout: StoreLayout
    private let chainID: String
    private let scheduler: SealScheduler
    private let pipeline: SegmentPipeline
    private let shared: Locked<Shared>
    private let wake = DispatchSemaphore(value: 0)

    // The committer thread's own state.
    private var active: ActiveSegment
    private var durable: ChainState
    private var duplicates: DuplicateFilter
    /// Leaf hashes of the events in the open segment, handed to the sealer so that it need not hash
    /// them again (nil after recovery: the sealer then hashes what it reads).
    private var activeLeaves: [SHA256Digest]?
    /// After a failed attempt to open the next write-ahead segment, the next attempt waits until
    /// then: a disk that takes no new file must not turn the committer into a busy loop.
    private var rotationRetryAt = Date.distantPast

    init(configuration: StoreConfiguration, layout: StoreLayout, chainID: String, recovered: RecoveredStore,
         acknowledgedSince openedAt: Date, scheduler: SealScheduler) {
        self.configuration = configuration
        self.layout = layout
        self.chainID = chainID
        self.scheduler = scheduler
        pipeline = SegmentPipeline(layout: layout)
        active = recovered.active
        durable = recovered.durable
        duplicates = recovered.duplicates
        activeLeaves = recovered.active.eventCount == 0 ? [] : nil
        var shared = Shared(durable: recovered.durable, openSegmentBytes: recovered.active.durableLength)
        // Events recovered beyond the last manifest were acknowledged before this start: count them from now.
        if recovered.durable.nextIndex > scheduler.snapshot.tip.committedTreeSize {
            shared.arrivals.record(index: scheduler.snapshot.tip.committedTreeSize, at: openedAt)
        }
        self.shared = Locked(shared)
        Threads.start(name: "auditseal-commit") { [self] in loop() }
    }

    // MARK: Requests

    func append(_ batch: EventBatch) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = shared.withLock { s -> Bool in
                guard !s.stopping else { return false }
                s.pending.append((batch, continuation))
                return true
            }
            if accepted { wake.signal() } else { continuation.resume(throwing: AuditSealError(.shuttingDown, "the store is shutting down")) }
        }
    }

    /// Cuts the open segment (if it holds events) and returns once the sealer has sealed it; a
    /// closing request ends with a closing manifest even when there is nothing to seal.
    func rotate(closing: Bool) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let accepted = shared.withLock { s -> Bool in
                guard !s.stopping else { return false }
                s.rotationRequests.append((closing, continuation))
                return true
            }
            if accepted { wake.signal() } else { continuation.resume(throwing: AuditSealError(.shuttingDown, "the store is shutting down")) }
        }
    }

    /// Takes no more appends or requests; the thread ends once those taken are done.
    func beginStop() {
        shared.withLock { $0.stopping = true }
        wake.signal()
    }

    // MARK: Progress

    struct Snapshot {
        var durable: ChainState
        var openSegmentBytes: Int
        var writeError: String?
    }

    var snapshot: Snapshot {
        shared.withLock { Snapshot(durable: $0.durable, openSegmentBytes: $0.openSegmentBytes, writeError: $0.writeError) }
    }

    /// See `AuditStore.oldestEventTime(from:forgetBefore:)`.
    func oldestEventTime(from index: UInt64, forgetBefore: UInt64?) -> Date? {
        shared.withLock { s in
            if let forgetBefore { s.arrivals.forget(before: forgetBefore) }
            return s.arrivals.oldestArrival(from: index, end: s.durable.nextIndex)
        }
    }

    /// See `AuditStore.committedSizes()`.
    func committedSizes() -> AsyncStream<UInt64> {
        NewestValueFollowers<UInt64>.stream(
            register: { continuation in shared.withLock { $0.followers.add(continuation, current: $0.durable.nextIndex) } },
            unregister: { [weak self] id in self?.shared.withLock { $0.followers.remove(id) } })
    }

    // MARK: The thread

    private func loop() {
        let sha = SHA256()
        var headers = [UInt8]()  // record headers; the lines are written in place from the batches
        headers.reserveCapacity(1 << 16)
        while true {
            let (group, rotationAsked, stopping) = shared.withLock { s in
                defer { s.pending.removeAll() }
                return (s.pending, !s.rotationRequests.isEmpty, s.stopping)
            }
            if group.isEmpty && !rotationAsked {
                if stopping { break }
                if !segmentIsOld() {
                    _ = wake.wait(timeout: .now() + min(1, configuration.segmentMaxAge))
                    continue
                }
            }
            // A file with a failed write takes nothing more: continue in a new one first.
            if active.failed && (!group.isEmpty || segmentIsOld()) { abandonFailedSegment() }
            let unwritable = active.failed ? "the write-ahead log cannot take writes: \(shared.withLock { $0.writeError } ?? "a failed write")" : nil

            // Chain the whole group; appends arriving meanwhile wait for the next fsync.
            headers.removeAll(keepingCapacity: true)
            var state = durable
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
                    if duplicates.contains(key) || !groupKeys.insert(key).inserted {
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

            if failure == nil && !pieces.isEmpty {
                let previous = durable.nextIndex
                durable = state
                for key in newKeys { duplicates.insert(key) }
                activeLeaves?.append(contentsOf: groupLeaves)
                let bytes = active.durableLength
                shared.withLock { s in
                    s.arrivals.record(index: previous, at: Date())
                    s.durable = state
                    s.openSegmentBytes = bytes
                    s.writeError = nil
                    s.followers.yield(state.nextIndex)
                }
                // Before any segment holding these events is handed over (see SealScheduler.noteDurable).
                scheduler.noteDurable(state)
            }
            for (i, entry) in group.enumerated() {
                if let failure { entry.continuation.resume(throwing: failure) } else { entry.continuation.resume(returning: results[i]) }
            }
            if failure == nil {
                rotateIfNeeded()
            } else if active.failed {
                setWriteError("write-ahead write failed: \(failure!)")
                abandonFailedSegment()
            }
        }
        pipeline.removeSpare()
        let followers = shared.withLock { $0.followers.end() }
        // Finished outside the lock: a stream's termination handler takes it.
        for follower in followers { follower.finish() }
        scheduler.committerFinished()
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

    private func setWriteError(_ message: String?) {
        shared.withLock { $0.writeError = message }
    }

    /// Makes `next` the open segment.
    private func switchTo(_ next: ActiveSegment) {
        activeLeaves = []
        active = next
        let bytes = next.durableLength
        shared.withLock { s in
            s.writeError = nil
            s.openSegmentBytes = bytes
        }
    }

    /// Cuts the open segment and hands it to the sealer when it is full, old, or asked for.
    private func rotateIfNeeded() {
        let requests = shared.withLock { s in
            defer { s.rotationRequests.removeAll() }
            return s.rotationRequests
        }
        let full = active.durableLength >= configuration.segmentMaxBytes
        guard full || segmentIsOld() || !requests.isEmpty else { return }
        let closing = requests.contains { $0.closing }
        let continuations = requests.map(\.continuation)
        // Already queued by a closing seal that could not open a next segment: wait for that seal.
        if active.failed && scheduler.joinQueuedSeal(path: active.path, closing: closing, notifying: continuations) { return }
        if active.eventCount == 0 {
            // Nothing to seal: a closing request still gets a signed closing heartbeat.
            for request in requests {
                if request.closing { scheduler.submit(.heartbeat(closing: true), notifying: [request.continuation]) } else { request.continuation.resume() }
            }
            return
        }
        do {
            let next = try pipeline.next(state: durable, chainID: chainID)
            scheduler.submit(.segment(path: active.path, leaves: activeLeaves, closing: closing, limit: nil), notifying: continuations)
            switchTo(next)
        } catch {
            setWriteError("cannot open a new write-ahead segment: \(error)")
            rotationRetryAt = Date().addingTimeInterval(1)
            if closing {
                // Stopping: seal what is durable here without a next segment (the disk may be
                // failing); nothing more is written to this file.
                scheduler.submit(.segment(path: active.path, leaves: activeLeaves, closing: true, limit: active.eventCount), notifying: continuations)
                activeLeaves = []
                active.stopAppends()
            } else {
                for c in continuations { c.resume(throwing: error) }
            }
        }
    }

    /// After a failed write or fsync on the open segment: its durable records (all acknowledged)
    /// go to the sealer, read up to their count and no further, and appends continue in a new
    /// segment that starts after them. The failed file is never synced again. When the new file
    /// cannot be created either, the failed one stays and every append answers an error (503)
    /// until it can.
    private func abandonFailedSegment() {
        guard active.failed else { return }
        do {
            let next = try pipeline.next(state: durable, chainID: chainID)
            if active.eventCount > 0 {
                // Same name only when it held nothing: then the new file replaced it by rename.
                scheduler.submit(.segment(path: active.path, leaves: activeLeaves, closing: false, limit: active.eventCount))
            }
            switchTo(next)
        } catch {
            setWriteError("a write-ahead write failed and no new write-ahead segment can be created: \(error)")
            rotationRetryAt = Date().addingTimeInterval(1)
        }
    }
}
