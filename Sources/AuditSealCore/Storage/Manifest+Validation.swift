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
        // Times are what the writer writes (RFC 3339 in UTC): a verifier reasons about the tail with
        // sealedAt, so text that is no time ("yesterday") must not pass as one.
        guard Manifest.isWrittenTime(sealedAt) else { return "sealedAt is not an RFC 3339 time in UTC (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)" }
        if let previous = previousManifestSHA256, !isHex(previous, bytes: 32) { return "previousManifestSHA256 is not 64 lowercase hex digits" }
        guard isHex(keyID, bytes: 32) else { return "keyID is not 64 lowercase hex digits" }
        if let next = nextKeyID {
            guard isHex(next, bytes: 32), next != keyID else { return "nextKeyID must be another key's 64 lowercase hex digits" }
            guard type == "heartbeat" else { return "only a heartbeat hands over to a next key" }
        }
        if type == "heartbeat" {
            guard eventCount == 0, file == nil, leafHintsFile == nil, treeNodesFile == nil else { return "a heartbeat names no file and no events" }
            // Segment-only fields (FORMAT.md §5): present on a heartbeat they would claim what it does not commit to.
            let segmentOnly: [(String, Bool)] = [("fileSize", fileSize != nil), ("fileSHA256", fileSHA256 != nil), ("leafHintsSHA256", leafHintsSHA256 != nil),
                                                 ("treeNodesSHA256", treeNodesSHA256 != nil), ("firstIndex", firstIndex != nil), ("lastIndex", lastIndex != nil),
                                                 ("firstEventTime", firstEventTime != nil), ("lastEventTime", lastEventTime != nil),
                                                 ("minEventTime", minEventTime != nil), ("maxEventTime", maxEventTime != nil), ("backfilled", backfilled != nil)]
            if let present = segmentOnly.first(where: \.1) { return "\(present.0) is a segment-only field, present on a heartbeat" }
            return nil
        }
        guard file == stem + ".jsonl.gz" else { return "file must be \(stem).jsonl.gz, not \(file ?? "missing")" }
        guard let size = fileSize, size >= 0, let hash = fileSHA256, isHex(hash, bytes: 32) else { return "fileSize and fileSHA256 are required for a segment" }
        if let hints = leafHintsFile, hints != stem + ".leaves" { return "leafHintsFile must be \(stem).leaves, not \(hints)" }
        if let hash = leafHintsSHA256, !isHex(hash, bytes: 32) { return "leafHintsSHA256 is not 64 lowercase hex digits" }
        if (leafHintsFile == nil) != (leafHintsSHA256 == nil) { return "leafHintsFile and leafHintsSHA256 come together" }
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

    /// An RFC 3339 time in UTC as the writer writes it: `YYYY-MM-DDTHH:MM:SS` with an optional
    /// fraction of 1 to 9 digits and `Z`, that parses as a real time.
    public static func isWrittenTime(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count >= 20, b.count <= 30, b.last == UInt8(ascii: "Z") else { return false }
        let digits: Set<Int> = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        func isDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) }
        for i in 0..<19 {
            let ok = digits.contains(i) ? isDigit(b[i]) : b[i] == [4: UInt8(ascii: "-"), 7: UInt8(ascii: "-"), 10: UInt8(ascii: "T"), 13: UInt8(ascii: ":"), 16: UInt8(ascii: ":")][i]
            guard ok else { return false }
        }
        if b.count > 20 {
            guard b[19] == UInt8(ascii: "."), b.count >= 22, b[20..<(b.count - 1)].allSatisfy(isDigit) else { return false }
        }
        func number(_ range: Range<Int>) -> Int { b[range].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        let (year, month, day) = (number(0..<4), number(5..<7), number(8..<10))
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), number(11..<13) < 24, number(14..<16) < 60, number(17..<19) < 60 else { return false }
        return Timestamp.parse(text) != nil
    }
}
