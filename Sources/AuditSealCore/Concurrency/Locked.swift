import Glibc

/// A value that one lock guards: the one lock type of the project. It is a pthread mutex because
/// ThreadSanitizer sees those: `Synchronization.Mutex` locks with futexes that TSan does not see on
/// Linux, so every access under it is reported as a race (a ten-line program with two threads
/// appending under a Mutex is reported; `scripts/sanitize.sh thread`).
public final class Locked<Value> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: sending Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, the lock held; keep it short and never call back into the owner.
    /// As `Synchronization.Mutex`: the value comes in `sending` and never leaves the lock, so a
    /// non-Sendable value (a database connection) is guarded as soundly as a Sendable one.
    public func withLock<Result>(_ body: (inout sending Value) throws -> sending Result) rethrows -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

extension Locked: @unchecked Sendable {}  // `value` is only touched inside `withLock`, under `mutex`, and enters and leaves as `sending` (Mutex's contract)
