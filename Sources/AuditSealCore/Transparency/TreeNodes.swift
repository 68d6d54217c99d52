/// The tree-node index of a sealed segment (docs/FORMAT.md §5.1, `<stem>.nodes`): the hash of every
/// perfect, aligned subtree of height `minLevel` or more whose last leaf is in the segment, so that
/// a proof from a store of any size reads a few small files instead of every segment.
///
/// File: the 32-byte hashes, nothing else, ordered by the index of the subtree's last leaf and, for
/// one leaf, by level upwards. The node of level h and position k (leaves [k·2^h, (k+1)·2^h))
/// completes at leaf (k+1)·2^h − 1, so a segment of leaves [first, last] holds, for each leaf j
/// in it with (j+1) a multiple of 2^minLevel, the levels minLevel...trailingZeros(j+1).
public enum TreeNodes {
    /// Subtrees of 256 leaves and up: about one node per 128 events (0.25 bytes per event).
    public static let minLevel = 8

    /// One node: level h and position k.
    public struct Position: Hashable, Sendable {
        public var level: Int
        public var index: UInt64
        public init(level: Int, index: UInt64) {
            self.level = level
            self.index = index
        }
        /// The leaves it covers.
        public var range: Range<UInt64> { (index << UInt64(level))..<((index + 1) << UInt64(level)) }
        /// The leaf at which it completes.
        public var lastLeaf: UInt64 { ((index + 1) << UInt64(level)) - 1 }
    }

    /// The node positions a segment of leaves [first, first + count) completes, in file order.
    public static func positions(first: UInt64, count: UInt64) -> [Position] {
        var out = [Position]()
        guard count > 0 else { return out }
        let step = UInt64(1) << UInt64(minLevel)
        // The first leaf j >= first with (j+1) % step == 0.
        var end = (first / step + 1) * step  // j + 1
        while end - 1 < first + count {
            let top = end.trailingZeroBitCount
            for level in minLevel...top { out.append(Position(level: level, index: (end >> UInt64(level)) - 1)) }
            end += step
        }
        return out
    }

    /// Collects the nodes completed while leaves are appended (feed it from `CompactRange.append`).
    public struct Collector {
        public private(set) var bytes = [UInt8]()
        public init() {}
        /// Called with every interior node the append forms (level >= 1).
        @inline(__always)
        public mutating func formed(level: Int, hash: SHA256Digest) {
            if level >= TreeNodes.minLevel { hash.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        }
    }

    /// Parses a segment's node file into position → hash; nil when its size does not match.
    public static func parse(_ bytes: [UInt8], first: UInt64, count: UInt64) -> [Position: SHA256Digest]? {
        let positions = positions(first: first, count: count)
        guard bytes.count == positions.count * 32 else { return nil }
        var out = [Position: SHA256Digest](minimumCapacity: positions.count)
        for (i, p) in positions.enumerated() {
            out[p] = SHA256Digest(bytes: bytes[(i * 32)..<(i * 32 + 32)])!
        }
        return out
    }
}
