/// The structural rules every manifest must meet before any of its fields is used
/// (docs/FORMAT.md §5): a store is hostile input, and a manifest signed by a trusted key can still
/// be nonsense (a stolen key) or name files outside its own segment.
extension Manifest {
    /// The largest tree size a manifest may state: far beyond any real chain, and small enough that
    /// no index arithmetic on it can overflow.
    public static let maximumTreeSize: UInt64 = 1 << 62

    /// The first rule this manifest breaks, or nil; `sequence` is the number in its file name.
    public func structuralProblem(fileSequence: Int) -> String? {
        func isHex(_ s: String, bytes: Int) -> Bool { s.utf8.count == 2 * bytes && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) } }
        let stem = Manifest.stem(fileSequence)
        guard format == Manifest.formatName else { return "format is \(format), not \(Manifest.formatName)" }
        guard type == "segment" || type == "heartbeat" else { return "type \(type) is neither segment nor heartbeat" }
        guard sequence == fileSequence else { return "sequence \(sequence) is not the \(fileSequence) of its file name" }
        guard isHex(chainID, bytes: 16) else { return "chainID is not 32 lowercase hex digits" }
        guard isHex(chainHashBefore, bytes: 32), isHex(chainHashAfter, bytes: 32), isHex(treeRoot, bytes: 32) else {
            return "chainHashBefore, chainHashAfter and treeRoot must be 64 lowercase hex digits"
        }
        guard treeSize <= Manifest.maximumTreeSize else { return "treeSize \(treeSize) is beyond any real chain" }
        guard eventCount >= 0, UInt64(eventCount) <= treeSize else { return "eventCount \(eventCount) is not within 0...treeSize (\(treeSize))" }
        guard treeFrontier.count == treeSize.nonzeroBitCount, treeFrontier.allSatisfy({ isHex($0, bytes: 32) }) else {
            return "treeFrontier must hold \(treeSize.nonzeroBitCount) hashes for a tree of \(treeSize)"
        }
        guard heartbeatIntervalSeconds >= 0 else { return "heartbeatIntervalSeconds is negative" }
        if let previous = previousManifestSHA256, !isHex(previous, bytes: 32) { return "previousManifestSHA256 is not 64 lowercase hex digits" }
        guard isHex(keyID, bytes: 32) else { return "keyID is not 64 lowercase hex digits" }
        if let next = nextKeyID {
            guard isHex(next, bytes: 32), next != keyID else { return "nextKeyID must be another key's 64 lowercase hex digits" }
            guard type == "heartbeat" else { return "only a heartbeat hands over to a next key" }
        }
        if type == "heartbeat" {
            guard eventCount == 0, file == nil, leafHintsFile == nil, treeNodesFile == nil else { return "a heartbeat names no file and no events" }
            return nil
        }
        guard file == stem + ".jsonl.gz" else { return "file must be \(stem).jsonl.gz, not \(file ?? "missing")" }
        guard let size = fileSize, size >= 0, let hash = fileSHA256, isHex(hash, bytes: 32) else { return "fileSize and fileSHA256 are required for a segment" }
        if let hints = leafHintsFile, hints != stem + ".leaves" { return "leafHintsFile must be \(stem).leaves, not \(hints)" }
        if let hash = leafHintsSHA256, !isHex(hash, bytes: 32) { return "leafHintsSHA256 is not 64 lowercase hex digits" }
        if let nodes = treeNodesFile, nodes != stem + ".nodes" { return "treeNodesFile must be \(stem).nodes, not \(nodes)" }
        if let hash = treeNodesSHA256, !isHex(hash, bytes: 32) { return "treeNodesSHA256 is not 64 lowercase hex digits" }
        if (treeNodesFile == nil) != (treeNodesSHA256 == nil) { return "treeNodesFile and treeNodesSHA256 come together" }
        if let ranges = backfilled {
            guard let first = firstIndex, let last = lastIndex, !ranges.isEmpty else { return "backfilled ranges need events (and are omitted when empty)" }
            var next = first
            for r in ranges {
                guard r.count == 2, r[0] >= next, r[0] <= r[1], r[1] <= last else {
                    return "backfilled ranges must be ordered, disjoint [first, last] pairs within \(first)...\(last)"
                }
                next = r[1] &+ 1
            }
        }
        if eventCount > 0 {
            guard firstIndex == treeSize - UInt64(eventCount), lastIndex == treeSize - 1 else {
                return "firstIndex/lastIndex must be \(treeSize - UInt64(eventCount))/\(treeSize - 1) for \(eventCount) events ending at tree size \(treeSize)"
            }
        } else if firstIndex != nil || lastIndex != nil {
            return "a segment of no events has no firstIndex/lastIndex"
        }
        return nil
    }
}
