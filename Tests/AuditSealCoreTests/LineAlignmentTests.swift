@testable import AuditSealCore
import Testing

/// `verify`'s locating of changed, inserted, deleted, duplicated and moved lines: the same answers
/// as the first, quadratic alignment (kept here as the oracle), and in O(n log n) on hostile input.
@Suite struct LineAlignmentTests {
    /// The alignment as it was before it was made O(n log n), verbatim but for names (its longest
    /// increasing run is unchanged and shared).
    static func oracle(actual: [UInt64], expected: [UInt64]) -> [LineAlignment.Difference] {
        var positions = [UInt64: [Int]]()
        for (k, h) in expected.enumerated() { positions[h, default: []].append(k) }
        var used = [Bool](repeating: false, count: expected.count)
        var mapped = [Int?](repeating: nil, count: actual.count)
        var result = [LineAlignment.Difference]()
        for (j, h) in actual.enumerated() {
            guard let candidates = positions[h] else { continue }
            if j < expected.count, expected[j] == h, !used[j] { mapped[j] = j; used[j] = true; continue }
            if let k = candidates.first(where: { !used[$0] }) { mapped[j] = k; used[k] = true } else {
                result.append(.duplicated(line: j, expected: candidates[0]))
            }
        }
        let inOrder = LineAlignment.longestIncreasing(mapped)
        for (j, k) in mapped.enumerated() {
            if let k, !inOrder.contains(j) { result.append(.moved(line: j, expected: k)) }
        }
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

    /// Sealed hints, then a tampered copy: lines changed, inserted, deleted, repeated and swapped,
    /// over hint alphabets from all-distinct (real hints) to a few repeated values (a hostile file).
    @Test func agreesWithTheQuadraticOracle() {
        var g = SplitMix64(seed: 20261129)
        var cases = 0
        for alphabet in [UInt64.max, 1000, 8, 2, 1] {
            for _ in 0..<400 {
                let n = Int.random(in: 0...60, using: &g)
                let expected = (0..<n).map { _ in alphabet == .max ? g.next() : UInt64.random(in: 0..<alphabet, using: &g) }
                var actual = expected
                for _ in 0..<Int.random(in: 0...6, using: &g) {
                    let at = actual.isEmpty ? 0 : Int.random(in: 0..<actual.count, using: &g)
                    switch Int.random(in: 0..<5, using: &g) {
                    case 0 where !actual.isEmpty: actual[at] = g.next() | 1 << 63        // changed
                    case 1: actual.insert(g.next() | 1 << 63, at: at)                    // inserted
                    case 2 where !actual.isEmpty: actual.remove(at: at)                  // deleted
                    case 3 where !actual.isEmpty: actual.insert(actual[at], at: at)      // duplicated
                    case 4 where actual.count > 1: actual.swapAt(at, Int.random(in: 0..<actual.count, using: &g))  // moved
                    default: break
                    }
                }
                #expect(LineAlignment.differences(actual: actual, expected: expected) == Self.oracle(actual: actual, expected: expected),
                        "expected \(expected), actual \(actual)")
                cases += 1
            }
        }
        #expect(cases == 2000)
    }

    /// The run docs/FORMAT.md §8 step 3(b) says is taken when several are longest, written from
    /// its words in O(n²): the run ends at the last line with the greatest `len`, and each earlier
    /// member is the last line before it whose `len` is one less.
    static func documentedRun(_ values: [Int?]) -> Set<Int> {
        var len = [Int](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            guard let v else { continue }
            len[i] = 1 + ((0..<i).filter { values[$0].map { $0 < v } ?? false }.map { len[$0] }.max() ?? 0)
        }
        guard let best = len.max(), best > 0 else { return [] }
        var run: Set<Int> = []
        var i = len.lastIndex(of: best)!
        run.insert(i)
        while len[i] > 1 {
            i = (0..<i).last { len[$0] == len[i] - 1 }!
            run.insert(i)
        }
        return run
    }

    /// The documented tie rule is what `verify` does, over seeded positions with many equally long
    /// runs (few distinct values, unmapped lines between), and on a swap: of lines holding events
    /// 1 then 0, the second is in order and the first moved.
    @Test func tiesAmongLongestRunsFollowTheFormat() {
        var g = SplitMix64(seed: 1129)
        for _ in 0..<2000 {
            let values: [Int?] = (0..<Int.random(in: 0...40, using: &g)).map { _ in
                Int.random(in: 0..<4, using: &g) == 0 ? nil : Int.random(in: 0..<12, using: &g)
            }
            #expect(LineAlignment.longestIncreasing(values) == Self.documentedRun(values), "positions \(values)")
        }
        #expect(LineAlignment.differences(actual: [20, 10], expected: [10, 20]) == [.moved(line: 0, expected: 1)])
        #expect(LineAlignment.differences(actual: [10, 10, 20], expected: [10, 20]) == [.duplicated(line: 1, expected: 0)])
    }

    /// Hostile sizes the old alignment took quadratic time on, each a deterministic answer. Every
    /// line rewritten: no line maps, so the first is a change in place and the rest are insertions
    /// beside the deleted events (it scanned back over every earlier line for each unknown one).
    /// A hint file of one repeated value under twice as many equal lines: the second half repeats
    /// sealed events (it walked every used position of that value for each of them).
    @Test func hostileSizesStayNearLinear() {
        let n = 200_000
        let rewritten = LineAlignment.differences(actual: (0..<n).map { UInt64($0) | 1 << 63 }, expected: (0..<n).map { UInt64($0) })
        #expect(rewritten.count == 2 * n - 1)
        #expect(rewritten.first == .changed(line: 0, expected: 0))
        #expect(rewritten.dropFirst().prefix(n - 1).allSatisfy { if case .inserted = $0 { true } else { false } })
        #expect(rewritten.suffix(n - 1) == (1..<n).map { .deleted(expected: $0) })

        let repeated = [UInt64](repeating: 7, count: n)
        #expect(LineAlignment.differences(actual: repeated, expected: repeated).isEmpty)
        let doubled = LineAlignment.differences(actual: repeated + repeated, expected: repeated)
        #expect(doubled == (n..<(2 * n)).map { .duplicated(line: $0, expected: 0) })
        let shifted = LineAlignment.differences(actual: [8] + repeated, expected: repeated)
        #expect(shifted == [.moved(line: n, expected: 0), .inserted(line: 0)])
    }
}
