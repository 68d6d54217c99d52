import AuditSealCore
import Dispatch
import NIOConcurrencyHelpers

/// Large batches are scanned, chained and made durable one at a time, in arrival order, while
/// batches below `largeBatchBytes` never wait for this lane. A client sending many large batches at
/// once (an authorized sender gone wrong, or a flood with a stolen credential) then takes at most
/// one large batch's share of the CPU and of each commit group, and the API servers' ordinary
/// batches (400 events, well under a megabyte) keep their latency. The memory budget still bounds
/// what the waiting batches hold.
///
/// The lane has its own thread for scanning: a large body's tens of milliseconds of parsing then
/// never hold one of the few threads of Swift's concurrency pool, on which every ordinary batch's
/// handler runs.
///
/// A large batch is also appended in slices of about `sliceBytes` of stored lines, each its own
/// commit, so that an ordinary batch arriving meanwhile shares its fsync with one slice, not with
/// the whole batch. If a slice fails, the slices before it stay stored but the batch is refused
/// (503) and never acknowledged; the API server's retry stores the rest, and the duplicate filter
/// drops what is already stored (docs/FORMAT.md §1).
final class LargeBatchLane: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    /// Bodies of at least this many bytes (as decoded) take the lane; 0 turns it off.
    let threshold: Int
    private let state = NIOLockedValueBox(State())

    /// Stored-line bytes per commit for a batch in the lane.
    let sliceBytes: Int

    init(threshold: Int, sliceBytes: Int = 1 << 20) {
        self.threshold = threshold
        self.sliceBytes = sliceBytes
    }

    /// The lane's thread (one large batch at a time is in the lane).
    private let thread = DispatchQueue(label: "auditseal-large-batch")

    /// Runs `work` (scanning a body of `bytes`) at once when the body is small, else on the lane's
    /// own thread.
    func scan<T: Sendable>(bodyBytes bytes: Int, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard threshold > 0, bytes >= threshold else { return try work() }
        return try await withCheckedThrowingContinuation { continuation in
            thread.async { continuation.resume(with: Result(catching: work)) }
        }
    }

    /// Appends `batch` (read from a body of `bytes`) with `append` (the store's): whole when it is
    /// small, one call per slice in the lane.
    func append(_ batch: EventBatch, bodyBytes bytes: Int,
                using append: (EventBatch) async throws -> AppendResult) async throws -> AppendResult {
        guard threshold > 0, bytes >= threshold else { return try await append(batch) }
        var total = AppendResult(stored: 0, duplicates: 0, firstIndex: nil)
        for range in Self.slices(of: batch, maxBytes: sliceBytes) {
            let part = try await append(batch.slice(range))
            total.stored += part.stored
            total.duplicates += part.duplicates
            if total.firstIndex == nil { total.firstIndex = part.firstIndex }
        }
        return total
    }

    /// Consecutive ranges of the batch's events, each holding at most `maxBytes` of stored lines
    /// (at least one event).
    static func slices(of batch: EventBatch, maxBytes: Int) -> [Range<Int>] {
        var ranges = [Range<Int>]()
        var start = 0
        var size = 0
        for i in 0..<batch.count {
            let length = batch.events[i].line.count + 1
            if i > start && size + length > maxBytes {
                ranges.append(start..<i)
                start = i
                size = 0
            }
            size += length
        }
        if start < batch.count { ranges.append(start..<batch.count) }
        return ranges
    }

    /// Runs body in the lane when `bytes` reaches the threshold, else at once.
    func run<T>(bytes: Int, _ body: () async throws -> T) async throws -> T {
        guard threshold > 0, bytes >= threshold else { return try await body() }
        await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if !s.busy { s.busy = true; return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    private func leave() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            guard s.head < s.waiters.count else {
                s.busy = false
                s.waiters.removeAll()
                s.head = 0
                return nil
            }
            defer { s.head += 1 }
            return s.waiters[s.head]
        }
        next?.resume()
    }
}
