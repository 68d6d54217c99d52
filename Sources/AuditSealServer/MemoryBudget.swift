import AuditSealCore

/// Bounds the memory that request bodies in flight may take together. Each request reserves as it
/// reads and releases when answered; a request that would go over the budget is answered
/// 503 + Retry-After instead of growing the process.
public final class MemoryBudget: Sendable {
    private let used = Locked(0)
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// Bytes currently reserved.
    public var inUse: Int { used.withLock { $0 } }

    func take(_ n: Int) -> Bool {
        used.withLock { used in
            guard used + n <= limit else { return false }
            used += n
            return true
        }
    }

    func give(_ n: Int) { used.withLock { $0 -= n } }

    /// One request's share of the budget.
    final class Reservation: Sendable {
        private let budget: MemoryBudget
        private let held = Locked(0)

        init(budget: MemoryBudget) { self.budget = budget }

        /// Reserves n more bytes; false when the budget has no room.
        func reserve(_ n: Int) -> Bool {
            guard budget.take(n) else { return false }
            held.withLock { $0 += n }
            return true
        }

        /// Gives everything back.
        func release() {
            budget.give(held.withLock { held in
                defer { held = 0 }
                return held
            })
        }
    }
}
