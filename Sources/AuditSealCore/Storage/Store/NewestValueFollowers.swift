/// The followers of one newest-only stream of the store (commit sizes, manifest sequences): each
/// gets the current value when it subscribes, then the newest after each change; a follower that
/// falls behind skips to the newest. Lives inside its owner's lock.
struct NewestValueFollowers<Value: Sendable>: Sendable {
    private var continuations = [Int: AsyncStream<Value>.Continuation]()
    private var nextID = 0
    /// The stream has ended (the store closed): a new follower's stream ends at once.
    private(set) var ended = false

    /// Registers a follower and gives it `current`; nil (and the stream finished) once ended.
    mutating func add(_ continuation: AsyncStream<Value>.Continuation, current: Value) -> Int? {
        guard !ended else { return nil }
        let id = nextID
        nextID += 1
        continuations[id] = continuation
        continuation.yield(current)
        return id
    }

    mutating func remove(_ id: Int) { continuations[id] = nil }

    func yield(_ value: Value) {
        for continuation in continuations.values { continuation.yield(value) }
    }

    /// Ends the stream: returns the followers to finish once the owner's lock is released (a
    /// stream's termination handler takes that lock).
    mutating func end() -> [AsyncStream<Value>.Continuation] {
        ended = true
        defer { continuations = [:] }
        return Array(continuations.values)
    }

    /// A stream whose follower `register` adds under the owner's lock (nil: ended) and
    /// `unregister` removes when the follower stops listening.
    static func stream(register: (AsyncStream<Value>.Continuation) -> Int?,
                       unregister: @escaping @Sendable (Int) -> Void) -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(1))
        guard let id = register(continuation) else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { _ in unregister(id) }
        return stream
    }
}
