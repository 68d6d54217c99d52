import NIOConcurrencyHelpers

/// Large batches are scanned, chained and made durable one at a time, in arrival order, while
/// batches below `largeBatchBytes` never wait for this lane. A client sending many large batches at
/// once (an authorized sender gone wrong, or a flood with a stolen credential) then takes at most
/// one large batch's share of the CPU and of each commit group, and the API servers' ordinary
/// batches (400 events, well under a megabyte) keep their latency. The memory budget still bounds
/// what the waiting batches hold.
final class LargeBatchLane: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    /// Bodies of at least this many bytes (as decoded) take the lane; 0 turns it off.
    let threshold: Int
    private let state = NIOLockedValueBox(State())

    init(threshold: Int) { self.threshold = threshold }

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
