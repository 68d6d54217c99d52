/// Locates what changed in a segment by aligning the leaf hashes of its lines with the leaf hints
/// sealed beside it (8 bytes of each event's leaf hash, in order).
enum LineAlignment {
    /// One located difference.
    enum Difference: Equatable {
        /// Line `line` (0-based) holds content that was never sealed at `expected`.
        case changed(line: Int, expected: Int)
        /// Line `line` holds content that was never sealed anywhere.
        case inserted(line: Int)
        /// The event sealed at `expected` is absent.
        case deleted(expected: Int)
        /// Line `line` repeats the event sealed at `expected`.
        case duplicated(line: Int, expected: Int)
        /// Line `line` holds the event sealed at `expected`, out of order.
        case moved(line: Int, expected: Int)
    }

    static func differences(actual: [UInt64], expected: [UInt64]) -> [Difference] {
        var positions = [UInt64: [Int]]()
        for (k, h) in expected.enumerated() { positions[h, default: []].append(k) }
        var used = [Bool](repeating: false, count: expected.count)
        var mapped = [Int?](repeating: nil, count: actual.count)
        var result = [Difference]()
        // Map each line to the first unused sealed position with the same hint (in-place first).
        for (j, h) in actual.enumerated() {
            guard let candidates = positions[h] else { continue }
            if j < expected.count, expected[j] == h, !used[j] { mapped[j] = j; used[j] = true; continue }
            if let k = candidates.first(where: { !used[$0] }) { mapped[j] = k; used[k] = true } else {
                result.append(.duplicated(line: j, expected: candidates[0]))
            }
        }
        // Lines in the longest increasing run of positions are in order; the others moved.
        let inOrder = longestIncreasing(mapped)
        for (j, k) in mapped.enumerated() {
            if let k, !inOrder.contains(j) { result.append(.moved(line: j, expected: k)) }
        }
        // Lines with unknown content: a change in place of a missing event, or an insertion.
        var explained = Set<Int>()
        for (j, h) in actual.enumerated() where mapped[j] == nil && positions[h] == nil {
            let previous = (0..<j).reversed().first { mapped[$0] != nil }.flatMap { mapped[$0]! }
            let slot = previous.map { $0 + 1 } ?? 0
            let guess = slot < expected.count && !used[slot] && !explained.contains(slot) ? slot : nil
            if let k = guess {
                explained.insert(k)
                result.append(.changed(line: j, expected: k))
            } else {
                result.append(.inserted(line: j))
            }
        }
        for k in expected.indices where !used[k] && !explained.contains(k) { result.append(.deleted(expected: k)) }
        return result
    }

    /// Indices of a longest strictly increasing subsequence of the non-nil values.
    private static func longestIncreasing(_ values: [Int?]) -> Set<Int> {
        var tails = [Int]()       // index into values of the smallest tail of each length
        var parent = [Int](repeating: -1, count: values.count)
        for (i, v) in values.enumerated() {
            guard let v else { continue }
            var lo = 0, hi = tails.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if values[tails[mid]]! < v { lo = mid + 1 } else { hi = mid }
            }
            if lo > 0 { parent[i] = tails[lo - 1] }
            if lo == tails.count { tails.append(i) } else { tails[lo] = i }
        }
        var chosen = Set<Int>()
        var i = tails.last ?? -1
        while i >= 0 { chosen.insert(i); i = parent[i] }
        return chosen
    }
}
