import Foundation

/// Bounds the memory that request bodies in flight may take together. Each request reserves as it
/// reads and releases when answered; a request that would go over the budget is answered
/// 503 + Retry-After instead of growing the process.
public final class MemoryBudget: @unchecked Sendable {
    private let lock = NSLock()
    private var used = 0
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// Bytes currently reserved.
    public var inUse: Int { lock.lock(); defer { lock.unlock() }; return used }

    func take(_ n: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard used + n <= limit else { return false }
        used += n
        return true
    }

    func give(_ n: Int) {
        lock.lock(); defer { lock.unlock() }
        used -= n
    }

    /// One request's share of the budget.
    final class Reservation: @unchecked Sendable {
        private let budget: MemoryBudget
        private let lock = NSLock()
        private var held = 0

        init(budget: MemoryBudget) { self.budget = budget }

        /// Reserves n more bytes; false when the budget has no room.
        func reserve(_ n: Int) -> Bool {
            guard budget.take(n) else { return false }
            lock.lock(); held += n; lock.unlock()
            return true
        }

        /// Gives everything back.
        func release() {
            lock.lock(); let n = held; held = 0; lock.unlock()
            budget.give(n)
        }
    }
}
