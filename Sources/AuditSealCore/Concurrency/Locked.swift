import Foundation

/// A value that one lock guards: the one lock type of the project. It is a pthread mutex (through
/// NSLock) because ThreadSanitizer sees those: `Synchronization.Mutex` locks with futexes that
/// TSan does not see on Linux, so every access under it is reported as a race (a ten-line program
/// with two threads appending under a Mutex is reported; `scripts/sanitize.sh thread`).
public final class Locked<Value> {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value, the lock held; keep it short and never call back into the owner.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

extension Locked: @unchecked Sendable where Value: Sendable {}  // `value` is only touched inside `withLock`, under `lock`
