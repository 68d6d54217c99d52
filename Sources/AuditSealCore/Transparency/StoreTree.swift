import FoundationEssentials

/// Subtree hashes of a sealed store's Merkle tree, read from as little of the store as possible:
/// the frontier of the checkpoints involved (in their manifests), the segments' tree-node indexes
/// for subtrees of 256 leaves and up, and the leaves themselves, from the start of one or two
/// segments, only for the small subtrees at a proof's edges.
///
/// Proof generation runs in two passes: which subtrees a proof needs depends only on the sizes and
/// indexes (`ProofPlan`), so the files to read are known before any is read (`files(for:)`), and
/// an object store can fetch exactly those.
public final class StoreTree {
    /// A sealed segment's place in the tree.
    public struct Segment: Sendable {
        public var sequence: Int
        public var first: UInt64
        public var count: UInt64
        public var file: String
        public var nodesFile: String?
        public var end: UInt64 { first + count }
    }

    /// Segments with events, in index order.
    public let segments: [Segment]
    /// Every manifest by sequence (segments and heartbeats).
    public let manifests: [Int: Manifest]
    /// Where files come from: a store-relative path ("segments/NAME") to its bytes.
    private let read: (String) throws -> [UInt8]?
    private let sha = SHA256()
    private var frontier = [Range<UInt64>: SHA256Digest]()
    private var nodeCache = [Int: [TreeNodes.Position: SHA256Digest]]()
    private var lineCache = [Int: SegmentLines]()
    /// Segments decompressed so far (for benchmarks and tests: proofs must not read every segment).
    public private(set) var segmentsRead = Set<Int>()

    /// The lines of a segment, decompressed up to some line.
    public struct SegmentLines {
        public var data: [UInt8]
        public var lines: [Range<Int>]
        public var complete: Bool
    }

    /// A tree over known segments and the few manifests whose checkpoints are involved.
    public init(segments: [Segment], manifests: [Manifest], read: @escaping (String) throws -> [UInt8]?) {
        self.segments = segments
        var bySequence = [Int: Manifest]()
        for m in manifests { bySequence[m.sequence] = m }
        self.manifests = bySequence
        self.read = read
    }

    /// A segment's place, from its manifest (nil for heartbeats, empty segments, and a manifest whose
    /// tree size is smaller than its event count: a store is hostile input, and such a manifest has
    /// no place in the tree; the verifier reports it).
    public static func segment(of m: Manifest) -> Segment? {
        guard m.type == "segment", m.eventCount > 0, let file = m.file, m.treeSize >= UInt64(m.eventCount) else { return nil }
        return Segment(sequence: m.sequence, first: m.treeSize - UInt64(m.eventCount), count: UInt64(m.eventCount),
                       file: "segments/" + file, nodesFile: m.treeNodesFile.map { "segments/" + $0 })
    }

    public init(manifests: [Manifest], read: @escaping (String) throws -> [UInt8]?) {
        var bySequence = [Int: Manifest]()
        var segments = [Segment]()
        for m in manifests.sorted(by: { $0.sequence < $1.sequence }) {
            bySequence[m.sequence] = m
            if let segment = Self.segment(of: m) { segments.append(segment) }
        }
        self.segments = segments
        self.manifests = bySequence
        self.read = read
    }

    /// Reads every manifest of a store (they are small; the segments are not read). A manifest that
    /// breaks the structural rules (docs/FORMAT.md §5) is an error, as one that does not decode is:
    /// no tree arithmetic runs on its fields. Proofs need every manifest; `readManifests` is the
    /// lenient reading for views that can show the rest.
    public static func loadManifests(from source: StoreSource) throws -> [Manifest] {
        var manifests = [Manifest]()
        for name in try source.list("segments") {
            switch try manifest(named: name, in: source) {
            case .manifest(let m): manifests.append(m)
            case .refused(let why): throw AuditSealError(.malformedInput, why)
            case .none: continue
            }
        }
        return manifests
    }

    /// Every manifest that can be read, decodes and meets the structural rules, and for each one
    /// that does not, "segments/NAME: why" (what `status` and `cat --no-verify` show instead of
    /// nothing; `verify` locates the damage). A store without a segments folder has no manifests.
    public static func readManifests(from source: StoreSource) -> (manifests: [Manifest], refused: [String]) {
        var manifests = [Manifest]()
        var refused = [String]()
        for name in (try? source.list("segments")) ?? [] {
            do {
                switch try manifest(named: name, in: source) {
                case .manifest(let m): manifests.append(m)
                case .refused(let why): refused.append(why)
                case .none: continue
                }
            } catch {
                refused.append("segments/\(name): cannot be read: \(error)")
            }
        }
        return (manifests, refused)
    }

    private enum ManifestFile {
        case manifest(Manifest)
        /// "segments/NAME: why".
        case refused(String)
        /// Not a manifest's name, or gone since the listing.
        case none
    }

    /// One file of the segments folder; throws only when it cannot be read.
    private static func manifest(named name: String, in source: StoreSource) throws -> ManifestFile {
        guard let sequence = Manifest.sequence(ofFileName: name), let bytes = try source.read("segments/" + name) else { return .none }
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(bytes)
        } catch {
            return .refused("segments/\(name): \(error)")
        }
        if let problem = manifest.structuralProblem(fileSequence: sequence) { return .refused("segments/\(name): \(problem)") }
        return .manifest(manifest)
    }

    /// Events sealed in segments: proofs reach up to here.
    public var sealedSize: UInt64 { segments.last?.end ?? 0 }

    /// The segment holding leaf `index`.
    public func segment(holding index: UInt64) -> Segment? {
        var lo = 0
        var hi = segments.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segments[mid].end <= index { lo = mid + 1 } else { hi = mid }
        }
        return lo < segments.count && segments[lo].first <= index ? segments[lo] : nil
    }

    /// Makes a checkpoint's frontier (from its manifest) available: the right edge of its tree.
    public func useFrontier(of manifest: Manifest) {
        var start: UInt64 = 0
        let bits = (0..<64).reversed().filter { manifest.treeSize & (UInt64(1) << UInt64($0)) != 0 }
        guard bits.count == manifest.treeFrontier.count else { return }
        for (bit, hex) in zip(bits, manifest.treeFrontier) {
            let size = UInt64(1) << UInt64(bit)
            if let digest = SHA256Digest(hex: hex) { frontier[start..<(start + size)] = digest }
            start += size
        }
    }

    // MARK: Planning

    /// How one perfect subtree is obtained.
    enum Source {
        case frontier
        case node(segment: Int)
        case leaves([Segment])
    }

    /// The perfect, aligned subtrees whose hashes make up MTH(D[range]), by RFC 6962's split.
    func perfectParts(of range: Range<UInt64>) -> [Range<UInt64>] {
        let n = range.upperBound - range.lowerBound
        if n == 0 { return [] }
        if n & (n - 1) == 0 && range.lowerBound % n == 0 { return [range] }
        if frontier[range] != nil { return [range] }
        let k = MerkleProof.split(n)
        return perfectParts(of: range.lowerBound..<(range.lowerBound + k)) + perfectParts(of: (range.lowerBound + k)..<range.upperBound)
    }

    func source(of perfect: Range<UInt64>) -> Source {
        if frontier[perfect] != nil { return .frontier }
        let n = perfect.upperBound - perfect.lowerBound
        let level = n.trailingZeroBitCount
        if level >= TreeNodes.minLevel, let seg = segment(holding: perfect.upperBound - 1), seg.nodesFile != nil {
            return .node(segment: seg.sequence)
        }
        return .leaves(segments.filter { $0.first < perfect.upperBound && perfect.lowerBound < $0.end })
    }

    /// The store files the hashes of these ranges (and, with `lines`, these events' lines) need.
    public func files(for ranges: [Range<UInt64>], lines: [UInt64] = []) -> [String] {
        var out = [String]()
        var seen = Set<String>()
        func add(_ f: String) { if seen.insert(f).inserted { out.append(f) } }
        for range in ranges {
            for part in perfectParts(of: range) {
                switch source(of: part) {
                case .frontier: break
                case .node(let s): if let f = segments.first(where: { $0.sequence == s })?.nodesFile { add(f) }
                case .leaves(let segs): segs.forEach { add($0.file) }
                }
            }
        }
        for index in lines { if let s = segment(holding: index) { add(s.file) } }
        return out
    }

    // MARK: Hashes

    /// MTH(D[range]).
    public func hash(_ range: Range<UInt64>) throws -> SHA256Digest {
        let n = range.upperBound - range.lowerBound
        guard n > 0 else { return MerkleHash.emptyRoot }
        if let known = frontier[range] { return known }
        if n & (n - 1) == 0 && range.lowerBound % n == 0 { return try perfect(range) }
        let k = MerkleProof.split(n)
        return MerkleHash.node(try hash(range.lowerBound..<(range.lowerBound + k)), try hash((range.lowerBound + k)..<range.upperBound), using: sha)
    }

    private func perfect(_ range: Range<UInt64>) throws -> SHA256Digest {
        switch source(of: range) {
        case .frontier:
            return frontier[range]!
        case .node(let sequence):
            let nodes = try nodeIndex(sequence)
            let n = range.upperBound - range.lowerBound
            let position = TreeNodes.Position(level: n.trailingZeroBitCount, index: range.lowerBound >> UInt64(n.trailingZeroBitCount))
            guard let digest = nodes[position] else { throw AuditSealError.storage("tree-node index of segment \(sequence) lacks node \(position.level)/\(position.index)") }
            return digest
        case .leaves:
            let leaves = try leafHashes(range)
            return MerkleHash.root(ofLeaves: leaves[...], using: sha)
        }
    }

    private func nodeIndex(_ sequence: Int) throws -> [TreeNodes.Position: SHA256Digest] {
        if let cached = nodeCache[sequence] { return cached }
        guard let seg = segments.first(where: { $0.sequence == sequence }), let file = seg.nodesFile else {
            throw AuditSealError.storage("segment \(sequence) has no tree-node index")
        }
        guard let bytes = try read(file) else { throw AuditSealError.storage("\(file) is missing") }
        guard let parsed = TreeNodes.parse(bytes, first: seg.first, count: seg.count) else {
            throw AuditSealError.storage("\(file) does not have the size its segment's events need")
        }
        nodeCache[sequence] = parsed
        return parsed
    }

    /// The leaf hashes of a range, read from the segments that hold it.
    public func leafHashes(_ range: Range<UInt64>) throws -> [SHA256Digest] {
        var out = [SHA256Digest]()
        out.reserveCapacity(Int(range.upperBound - range.lowerBound))
        var index = range.lowerBound
        while index < range.upperBound {
            guard let seg = segment(holding: index) else { throw AuditSealError.storage("no sealed segment holds event \(index)") }
            let upTo = min(range.upperBound, seg.end)
            let lines = try segmentLines(seg, through: Int(upTo - seg.first))
            lines.data.withUnsafeBytes { p in
                for i in Int(index - seg.first)..<Int(upTo - seg.first) {
                    out.append(MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: p[lines.lines[i]]), using: sha))
                }
            }
            index = upTo
        }
        return out
    }

    /// The stored line of event `index`.
    public func line(_ index: UInt64) throws -> [UInt8] {
        guard let seg = segment(holding: index) else { throw AuditSealError.storage("no sealed segment holds event \(index)") }
        let lines = try segmentLines(seg, through: Int(index - seg.first) + 1)
        return Array(lines.data[lines.lines[Int(index - seg.first)]])
    }

    /// Decompresses a segment up to (at least) `count` lines, or whole when count is nil.
    public func segmentLines(_ seg: Segment, through count: Int?) throws -> SegmentLines {
        if let cached = lineCache[seg.sequence], cached.complete || (count.map { cached.lines.count >= $0 } ?? false) { return cached }
        guard let gz = try read(seg.file) else { throw AuditSealError.storage("\(seg.file) is missing") }
        segmentsRead.insert(seg.sequence)
        let whole = SegmentReader.whole(gz, upToLines: count)
        let (data, lines, complete) = (whole.data, whole.lines, !whole.stoppedEarly)
        if let damage = whole.damage, count.map({ lines.count < $0 }) ?? true {
            throw AuditSealError.storage("\(seg.file): \(damage)")
        }
        let result = SegmentLines(data: data, lines: lines, complete: complete)
        lineCache[seg.sequence] = result
        guard count.map({ lines.count >= $0 }) ?? true else { throw AuditSealError.storage("\(seg.file) holds \(lines.count) lines, fewer than its manifest states") }
        return result
    }
}

/// Which subtree hashes a proof needs: independent of the hashes themselves.
public enum ProofPlan {
    public static func inclusion(index: UInt64, size: UInt64) -> [Range<UInt64>] {
        var out = [Range<UInt64>]()
        _ = try? MerkleProof.inclusionPath(index: index, size: size) { out.append($0); return .zero }
        return out
    }

    public static func consistency(from m: UInt64, to n: UInt64) -> [Range<UInt64>] {
        var out = [Range<UInt64>]()
        _ = try? MerkleProof.consistencyProof(from: m, to: n) { out.append($0); return .zero }
        return out
    }
}
