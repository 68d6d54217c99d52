import FoundationEssentials

/// Reading a store's events with verification (`auditseal cat`): the manifests are checked first
/// (signatures, their chain, checkpoints: cheap), then each segment is checked in full — its
/// signed SHA-256 and size, its gzip stream, its event count and the hash chain over its lines —
/// before any of its lines is released. Segments outside a time window are never read.
public struct VerifiedSegments: Sendable {
    /// Why reading stopped.
    public struct Failure: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// One segment's stored lines (the bytes, and each line's range).
    public struct Lines: Sendable {
        public var data: [UInt8]
        public var ranges: [Range<Int>]
        public var manifest: Manifest
    }

    /// Trusted segment manifests with events, in chain order.
    public let segments: [Manifest]
    /// Without verification: manifests left out because they do not decode or break the structural
    /// rules ("segments/NAME: why"), so that the reader can say so. With it, such manifests stop
    /// reading (below).
    public let refused: [String]
    /// Manifest-level errors: reading stops at the first segment at or after the sequence of one.
    let stops: [(sequence: Int, finding: Finding)]
    let verify: Bool

    /// Checks the manifests of a store. Without `verify` (`cat --no-verify`), every segment
    /// manifest is used as it is.
    public init(source: StoreSource, trustedKeys: [Ed25519PublicKey]?, verify: Bool = true) {
        self.verify = verify
        let verifier = Verifier(source: source, options: .init(trustedKeys: trustedKeys))
        if verify {
            let (trusted, report) = verifier.checkManifests()
            segments = trusted.filter { $0.type == "segment" && $0.eventCount > 0 }
            stops = report.findings.filter { $0.severity == .error }.map { ($0.sequence ?? 0, $0) }
            refused = []
        } else {
            let read = StoreTree.readManifests(from: source)
            segments = read.manifests.filter { $0.type == "segment" && $0.eventCount > 0 }.sorted { $0.sequence < $1.sequence }
            refused = read.refused
            stops = []
        }
    }

    /// The segments a filter may need, by the event times their manifests state.
    public func plan(_ filter: EventFilter) -> [Manifest] {
        segments.filter { filter.mayMatch($0) }
    }

    /// A manifest-level problem that must stop reading before this segment, if any.
    public func problem(before m: Manifest) -> Failure? {
        guard let stop = stops.first(where: { $0.sequence <= m.sequence }) else { return nil }
        return Failure(file: stop.finding.file ?? "manifests", reason: "[\(stop.finding.code)] \(stop.finding.message)")
    }

    /// Checks one segment's file against its manifest and returns its lines. `checkChain: false`
    /// keeps the checks of the file (its size and SHA-256 against the signed manifest, which prove
    /// the bytes are the sealed ones, and its line count) and skips recomputing the hash chain over
    /// every event (a forwarding sink's reads: `verify` and background verification do that).
    public func open(_ m: Manifest, gz: [UInt8]?, checkChain: Bool = true) throws -> Lines {
        let file = "segments/" + (m.file ?? Manifest.stem(m.sequence) + ".jsonl.gz")
        if let problem = problem(before: m) { throw problem }
        guard let gz else { throw Failure(file: file, reason: "the segment file is missing") }
        let sha = SHA256()
        if verify {
            guard gz.count == m.fileSize, sha.hash(gz).hex == m.fileSHA256 else {
                throw Failure(file: file, reason: "the file is not the one sealed (its size or SHA-256 differs from the signed manifest): run auditseal verify for details")
            }
        }
        let whole = SegmentReader.whole(gz, expectedLines: m.eventCount)
        if let damage = whole.damage { throw Failure(file: file, reason: damage) }
        let data = whole.data
        let ranges = whole.lines
        if verify {
            guard whole.trailing == nil, ranges.count == m.eventCount, var head = SHA256Digest(hex: m.chainHashBefore) else {
                throw Failure(file: file, reason: "the segment holds \(ranges.count) lines, its manifest \(m.eventCount)")
            }
            guard checkChain else { return Lines(data: data, ranges: ranges, manifest: m) }
            var index = m.treeSize - UInt64(m.eventCount)
            data.withUnsafeBytes { p in
                for r in ranges {
                    head = ChainHash.next(previous: head, index: index, leaf: MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: p[r]), using: sha), using: sha)
                    index += 1
                }
            }
            guard head.hex == m.chainHashAfter else { throw Failure(file: file, reason: "the events do not reproduce the manifest's chain hash") }
        }
        return Lines(data: data, ranges: ranges, manifest: m)
    }
}
