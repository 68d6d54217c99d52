import FoundationEssentials
import Dispatch

/// One job of the sealer thread.
enum SealJob: Sendable {
    /// A closed write-ahead segment to seal into a signed gzip segment. `leaves` are its events'
    /// leaf hashes when the committer has them (nil: hashed from the file); `limit` reads no
    /// further than that many records (a segment left after a failed write).
    case segment(path: String, leaves: [SHA256Digest]?, closing: Bool, limit: Int?)
    /// A signed heartbeat committing to every durable event (`closing`: nothing more is due).
    case heartbeat(closing: Bool)
    /// Key rotation: the current key hands over to this one, which signs from then on.
    case handover(Ed25519PrivateKey)

    var segmentPath: String? {
        if case .segment(let path, _, _, _) = self { return path }
        return nil
    }
}

/// The sealer: one thread that writes every manifest, in order. Segments come first (nothing can
/// be signed after a segment that is not sealed), then handovers, then heartbeats (coalesced, and
/// due by the clock an interval after the latest manifest). It learns the durable chain state from
/// the committer, which calls it (never the other way round).
final class SealScheduler: Sendable {
    private struct Queued {
        var job: SealJob
        var continuations: [CheckedContinuation<Void, Error>]
    }

    private struct State {
        var queue: [Queued]
        var durable: ChainState
        var tip: ManifestTip
        /// No more requests from outside; the thread ends once the committer has finished and the queue is empty.
        var stopping = false
        var committerFinished = false
        var finished = false
        var stopWaiters = [CheckedContinuation<Void, Never>]()
        var segmentsSealed = 0
        var sealFailures = 0
        /// The latest unresolved sealing problem (readiness), cleared by the next manifest written.
        var sealError: String?
        var observer: (@Sendable (_ sequence: Int, _ segment: Bool) -> Void)?
        var followers = NewestValueFollowers<Int>()
    }

    /// What the thread does next.
    private enum Step {
        case seal(path: String, leaves: [SHA256Digest]?, closing: Bool, limit: Int?, tip: ManifestTip)
        case handOver(Ed25519PrivateKey, CheckedContinuation<Void, Error>, tip: ManifestTip, durable: ChainState)
        case heartbeat(closing: Bool, [CheckedContinuation<Void, Error>], tip: ManifestTip, durable: ChainState)
        case wait(seconds: Double)
        case finish
    }

    private let sealer: Sealer
    private let layout: StoreLayout
    private let heartbeatInterval: Double
    private let openedAt = Date()
    private let state: Locked<State>
    private let wake = DispatchSemaphore(value: 0)
    /// Runs on the thread once the last manifest is written, before stop waiters are told.
    private let onFinish: @Sendable () -> Void

    init(sealer: Sealer, layout: StoreLayout, heartbeatInterval: Double, tip: ManifestTip, durable: ChainState,
         closedSegments: [String], onFinish: @escaping @Sendable () -> Void) {
        self.sealer = sealer
        self.layout = layout
        self.heartbeatInterval = heartbeatInterval
        self.onFinish = onFinish
        let queue = closedSegments.map { Queued(job: .segment(path: $0, leaves: nil, closing: false, limit: nil), continuations: []) }
        state = Locked(State(queue: queue, durable: durable, tip: tip))
        Threads.start(name: "auditseal-seal") { [self] in loop() }
    }

    // MARK: Requests

    /// Queues a job from the committer (taken even while stopping: it is the stop's own work). A
    /// segment already queued (a closing seal that could not open a next segment, then abandoned)
    /// gets the new waiters instead of a second job.
    func submit(_ job: SealJob, notifying continuations: [CheckedContinuation<Void, Error>] = []) {
        state.withLock { s in Self.enqueue(job, continuations, in: &s) }
        wake.signal()
    }

    /// Adds waiters to the queued job sealing `path`; false when no such job is queued.
    func joinQueuedSeal(path: String, closing: Bool, notifying continuations: [CheckedContinuation<Void, Error>]) -> Bool {
        let joined = state.withLock { s -> Bool in
            guard s.queue.contains(where: { $0.job.segmentPath == path }) else { return false }
            Self.enqueue(.segment(path: path, leaves: nil, closing: closing, limit: nil), continuations, in: &s)
            return true
        }
        if joined { wake.signal() }
        return joined
    }

    /// A job asked for from outside (a heartbeat now, a key rotation); refused once stopping.
    func request(_ job: SealJob) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let accepted = state.withLock { s -> Bool in
                guard !s.stopping else { return false }
                Self.enqueue(job, [continuation], in: &s)
                return true
            }
            if accepted { wake.signal() } else { continuation.resume(throwing: AuditSealError(.shuttingDown, "the store is shutting down")) }
        }
    }

    private static func enqueue(_ job: SealJob, _ continuations: [CheckedContinuation<Void, Error>], in s: inout State) {
        if case .segment(let path, _, let closing, _) = job, let i = s.queue.firstIndex(where: { $0.job.segmentPath == path }) {
            s.queue[i].continuations += continuations
            if closing, case .segment(_, let leaves, _, let limit) = s.queue[i].job {
                s.queue[i].job = .segment(path: path, leaves: leaves, closing: true, limit: limit)
            }
            return
        }
        s.queue.append(Queued(job: job, continuations: continuations))
    }

    /// The committer made `durable` durable (called in its order, before it hands over the segment
    /// that holds those events): heartbeats commit to it.
    func noteDurable(_ durable: ChainState) {
        state.withLock { $0.durable = durable }
    }

    /// The committer has stopped: once its last jobs are done, the thread ends.
    func committerFinished() {
        state.withLock { $0.committerFinished = true }
        wake.signal()
    }

    /// Takes no more requests from outside; returns once the thread has ended.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { s -> Bool in
                s.stopping = true
                if !s.finished { s.stopWaiters.append(continuation) }
                return s.finished
            }
            if finished { continuation.resume() } else { wake.signal() }
        }
    }

    // MARK: Progress

    struct Snapshot {
        var tip: ManifestTip
        var segmentsSealed: Int
        var sealFailures: Int
        var sealError: String?
    }

    var snapshot: Snapshot {
        state.withLock { Snapshot(tip: $0.tip, segmentsSealed: $0.segmentsSealed, sealFailures: $0.sealFailures, sealError: $0.sealError) }
    }

    /// See `AuditStore.sealedManifests()`.
    func sealedManifests() -> AsyncStream<Int> {
        NewestValueFollowers<Int>.stream(
            register: { continuation in state.withLock { $0.followers.add(continuation, current: $0.tip.sequence) } },
            unregister: { [weak self] id in self?.state.withLock { $0.followers.remove(id) } })
    }

    /// See `AuditStore.observeManifests(_:)`.
    func observeManifests(_ observer: @escaping @Sendable (_ sequence: Int, _ segment: Bool) -> Void) {
        state.withLock { $0.observer = observer }
    }

    // MARK: The thread

    private func loop() {
        var failedWhileStopping = 0
        while true {
            let step = state.withLock { nextStep(&$0) }
            switch step {
            case .wait(let seconds):
                _ = wake.wait(timeout: .now() + seconds)
            case .finish:
                finish()
                return
            case .seal(let path, let leaves, let closing, let limit, let tip):
                let outcome = Result { try sealer.seal(walPath: path, knownLeaves: leaves, recordLimit: limit, after: tip, closing: closing) }
                let stopping = state.withLock { s -> Bool in
                    // Waiters may have joined the job while it was being sealed.
                    let i = s.queue.firstIndex { $0.job.segmentPath == path }!
                    Self.finishJob(outcome, continuations: s.queue[i].continuations, isSegment: true, in: &s)
                    if case .success = outcome {
                        s.queue.remove(at: i)
                    } else if case .failure(let error) = outcome {
                        s.queue[i].continuations = []  // already told of the failure
                        Self.failWaiters(behind: i, error, in: &s)
                    }
                    return s.stopping && s.committerFinished
                }
                if case .failure = outcome {
                    // Stopping: a few more tries, then leave it to the next start (it stays a
                    // write-ahead segment, recovered and sealed then).
                    if stopping {
                        failedWhileStopping += 1
                        if failedWhileStopping >= 5 {
                            finish()
                            return
                        }
                    }
                    // Keep the segment queued; retry after a pause instead of spinning.
                    _ = wake.wait(timeout: .now() + 1)
                }
            case .handOver(let key, let continuation, let tip, let durable):
                let outcome = Result { () throws -> ManifestTip in
                    try SigningKeys.remember(key.publicKey, layout: layout)
                    return try sealer.handOver(to: key, after: tip, durable: durable)
                }
                state.withLock { Self.finishJob(outcome, continuations: [continuation], isSegment: false, in: &$0) }
            case .heartbeat(let closing, let continuations, let tip, let durable):
                let outcome = Result { try sealer.heartbeat(after: tip, durable: durable, closing: closing) }
                state.withLock { Self.finishJob(outcome, continuations: continuations, isSegment: false, in: &$0) }
            }
        }
    }

    /// Chooses the next job under the lock (a heartbeat's or handover's requests leave the queue
    /// with it; a segment stays queued until it is sealed).
    private func nextStep(_ s: inout State) -> Step {
        if let i = s.queue.firstIndex(where: { $0.job.segmentPath != nil }),
           case .segment(let path, let leaves, let closing, let limit) = s.queue[i].job {
            return .seal(path: path, leaves: leaves, closing: closing, limit: limit, tip: s.tip)
        }
        if let i = s.queue.firstIndex(where: { if case .handover = $0.job { return true } else { return false } }),
           case .handover(let key) = s.queue[i].job {
            let continuation = s.queue.remove(at: i).continuations[0]
            return .handOver(key, continuation, tip: s.tip, durable: s.durable)
        }
        if !s.queue.isEmpty {
            // Only heartbeats are left: one manifest answers them all.
            let closing = s.queue.contains { if case .heartbeat(true) = $0.job { return true } else { return false } }
            let continuations = s.queue.flatMap(\.continuations)
            s.queue.removeAll()
            return .heartbeat(closing: closing, continuations, tip: s.tip, durable: s.durable)
        }
        if s.stopping && s.committerFinished { return .finish }
        let now = Date()
        guard let due = nextHeartbeat(s) else { return .wait(seconds: 1) }
        if now >= due { return .heartbeat(closing: false, [], tip: s.tip, durable: s.durable) }
        return .wait(seconds: min(1, due.timeIntervalSince(now)))
    }

    /// A heartbeat is due an interval after the latest manifest, unless that manifest is a closing
    /// one and nothing came after it: a stop's closing seal must stay the last word, however long
    /// the stop takes (found under ThreadSanitizer, where a slow stop let a due heartbeat follow it).
    /// Nil then (the thread waits in one-second steps, never in a busy loop on a deadline long past).
    private func nextHeartbeat(_ s: State) -> Date? {
        if s.tip.closing && s.durable.nextIndex == s.tip.committedTreeSize { return nil }
        return (s.tip.sealedAt ?? openedAt).addingTimeInterval(heartbeatInterval)
    }

    private static func finishJob(_ outcome: Result<ManifestTip, Error>, continuations: [CheckedContinuation<Void, Error>], isSegment: Bool, in s: inout State) {
        switch outcome {
        case .success(let newTip):
            s.tip = newTip
            s.sealError = nil
            if isSegment { s.segmentsSealed += 1 }
            s.observer?(newTip.sequence, isSegment)
            s.followers.yield(newTip.sequence)
            for c in continuations { c.resume() }
        case .failure(let error):
            s.sealFailures += 1
            s.sealError = "sealing failed: \(error)"
            for c in continuations { c.resume(throwing: error) }
        }
    }

    /// After the segment at `index` failed to seal: nothing behind it can be written before it
    /// (manifests are chained), so whoever waits for a later seal, a heartbeat or a handover hears
    /// of the failure now rather than waiting for a disk that may not come back (a stop asks
    /// again). Later segments stay queued; heartbeats and handovers are dropped.
    private static func failWaiters(behind index: Int, _ error: Error, in s: inout State) {
        var kept = [Queued]()
        for (i, var queued) in s.queue.enumerated() {
            if i != index {
                for c in queued.continuations { c.resume(throwing: error) }
                queued.continuations = []
            }
            if queued.job.segmentPath != nil { kept.append(queued) }
        }
        s.queue = kept
    }

    private func finish() {
        let (waiters, followers) = state.withLock { s in
            s.finished = true
            defer { s.stopWaiters = [] }
            return (s.stopWaiters, s.followers.end())
        }
        onFinish()  // another process may open the directory now
        for waiter in waiters { waiter.resume() }
        // Finished outside the lock: a stream's termination handler takes it.
        for follower in followers { follower.finish() }
    }
}
