/// Runs `operation` for at most `seconds`: past that it is cancelled and `DeadlinePassed` is
/// thrown. For work at a stop that talks to a peer (the bucket, a witness) that may never answer:
/// the operation must honour cancellation (AsyncHTTPClient requests do), or the call waits for it.
public func withDeadline<T: Sendable>(seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlinePassed(seconds: seconds) }
        return value
    }
}

/// `withDeadline`'s operation did not finish in time.
public struct DeadlinePassed: Error, CustomStringConvertible {
    public let seconds: Double
    public var description: String { "no answer within \(Int(seconds)) s" }
}

/// Runs `operation` until it has made no progress for `seconds` (`lastProgress` says when it last
/// did): past that it is cancelled and `DeadlinePassed` is thrown. For a stop that must not wait on
/// a silent peer, yet must not cut off a slow one that keeps answering: cutting a bucket's upload
/// short leaves it to finish on the server unseen, and the next start's upload of the same object
/// then makes a second version.
public func withIdleDeadline<T: Sendable>(seconds: Double, lastProgress: @escaping @Sendable () -> ContinuousClock.Instant,
                                          _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            while true {
                let idle = ContinuousClock.now - lastProgress()
                if idle >= .seconds(seconds) { return nil }
                try await Task.sleep(for: .seconds(seconds) - idle)
            }
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlinePassed(seconds: seconds) }
        return value
    }
}
