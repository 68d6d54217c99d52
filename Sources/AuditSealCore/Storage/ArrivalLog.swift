import FoundationEssentials

/// When the chain grew past which index, at about one-second resolution: answers "since when has
/// the oldest event at or after index i been acknowledged?", which is how long it has waited for a
/// signed manifest (or a shipped one) to commit to it. Memory: 24 bytes a mark, at most one mark a
/// second, thinned to half when `capacity` is reached (ages then err on the old side).
public struct ArrivalLog: Sendable {
    private var indexes = [UInt64]()
    private var times = [Double]()
    let capacity: Int

    public init(capacity: Int = 100_000) { self.capacity = max(2, capacity) }

    /// Notes that the event at `index` (the first of a commit) was acknowledged at `time`.
    public mutating func record(index: UInt64, at time: Date) {
        let t = time.timeIntervalSince1970
        if let last = times.last, t - last < 1 { return }
        if indexes.count >= capacity {
            // Keep the first mark (the oldest arrival) and every second one after it.
            indexes = Swift.stride(from: 0, to: indexes.count, by: 2).map { indexes[$0] }
            times = Swift.stride(from: 0, to: times.count, by: 2).map { times[$0] }
        }
        indexes.append(index)
        times.append(t)
    }

    /// The arrival time of the oldest event with an index of at least `index` among the first
    /// `end` events, or nil when there is none (`index >= end`) or nothing was recorded for it.
    public func oldestArrival(from index: UInt64, end: UInt64) -> Date? {
        guard index < end, !indexes.isEmpty else { return nil }
        // The last mark at or before `index`: the commit that held it began then.
        var lo = 0, hi = indexes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if indexes[mid] <= index { lo = mid + 1 } else { hi = mid }
        }
        return Date(timeIntervalSince1970: times[max(0, lo - 1)])
    }

    /// Drops marks that only describe events before `index` (the last one at or before it stays).
    public mutating func forget(before index: UInt64) {
        var drop = 0
        while drop + 1 < indexes.count && indexes[drop + 1] <= index { drop += 1 }
        if drop > 0 {
            indexes.removeFirst(drop)
            times.removeFirst(drop)
        }
    }

    public var count: Int { indexes.count }
}
