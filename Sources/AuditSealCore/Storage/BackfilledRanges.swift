/// Index ranges of backfilled events (docs/FORMAT.md §5): events that reconciliation appended from
/// the API server's log file because the webhook never delivered them. Built in index order.
public struct BackfilledRanges: Sendable, Equatable {
    public private(set) var ranges: [ClosedRange<UInt64>] = []

    public init() {}

    /// Ranges from a manifest's `backfilled` pairs (malformed pairs are skipped: validation reports them).
    public init(pairs: [[UInt64]]?) {
        for p in pairs ?? [] where p.count == 2 && p[0] <= p[1] { ranges.append(p[0]...p[1]) }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// How many events the ranges hold.
    public var count: UInt64 { ranges.reduce(0) { $0 + ($1.upperBound - $1.lowerBound + 1) } }

    /// The manifest's form: [first, last] pairs.
    public var pairs: [[UInt64]] { ranges.map { [$0.lowerBound, $0.upperBound] } }

    /// Adds an index at or after every index added so far.
    public mutating func add(_ index: UInt64) {
        if let last = ranges.last, last.upperBound &+ 1 == index {
            ranges[ranges.count - 1] = last.lowerBound...index
        } else {
            ranges.append(index...index)
        }
    }

    public func contains(_ index: UInt64) -> Bool {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < index { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(index)
    }
}
