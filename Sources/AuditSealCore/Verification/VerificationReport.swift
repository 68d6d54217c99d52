/// One thing `verify` found: what, how bad, and where.
public struct Finding: Codable, Sendable, Equatable, CustomStringConvertible {
    /// How a finding affects the verdict.
    public enum Severity: String, Codable, Sendable {
        /// Evidence of tampering or loss: the store is not intact.
        case error
        /// Worth a look, but not proof of tampering (e.g. an in-progress write at the tail).
        case warning
    }

    /// A stable machine-readable code, e.g. "event-changed", "manifest-missing".
    public var code: String
    public var severity: Severity
    public var message: String
    public var file: String?
    /// 1-based line in the decompressed segment.
    public var line: Int?
    public var eventIndex: UInt64?
    public var auditID: String?
    public var sequence: Int?

    public var description: String {
        var place = [String]()
        if let file { place.append(file + (line.map { ":\($0)" } ?? "")) }
        if let eventIndex { place.append("event \(eventIndex)") }
        if let auditID { place.append("auditID \(auditID)") }
        return "\(severity == .error ? "TAMPERED" : "WARNING") [\(code)] \(message)" + (place.isEmpty ? "" : " (\(place.joined(separator: ", ")))")
    }
}

/// One shard of a sharded verification: `index` of `count` ("I/N").
public struct Shard: Codable, Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Parses "I/N" (0 <= I < N).
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether this shard reads the segment of a sequence number.
    public func owns(sequence: Int) -> Bool { sequence % count == index }

    /// Whether this shard reads a store file: segment data of its own sequences; every manifest,
    /// signature, checkpoint, cosignature and store-level file (every shard checks those).
    public func reads(_ relative: String) -> Bool {
        guard relative.hasPrefix("segments/") else { return true }
        let name = relative.dropFirst("segments/".count)
        guard name.hasSuffix(".jsonl.gz") || name.hasSuffix(".leaves") || name.hasSuffix(".nodes"),
              let sequence = Int(name.prefix(12)) else { return true }
        return owns(sequence: sequence)
    }
}

/// The outcome of verifying one store.
public struct VerificationReport: Codable, Sendable {
    public var source: String
    public var node: String?
    public var chainID: String?
    /// "public-keys" when checked against keys given by the caller; "store-keys" when only the
    /// store's own copies were available (internal consistency, not authorship).
    public var trust: String
    public var trustedKeyIDs: [String]
    public var manifests = 0
    public var segments = 0
    public var heartbeats = 0
    public var sealedEvents: UInt64 = 0
    public var openEvents: UInt64 = 0
    /// Events (sealed and open) that reconciliation backfilled from the API server's log file.
    public var backfilledEvents: UInt64 = 0
    /// Redaction markers in the sealed events (docs/FORMAT.md §12), and how many of them no vault
    /// record in the store's `vault/` holds (nil when the store has no local vault folder to read).
    public var redactedValues: UInt64 = 0
    public var erasedValues: UInt64?
    /// The receiver's reconciliation record, when the store has one (`reconcile/report.json`: the
    /// receiver's own account, not signed).
    public var completeness: CompletenessReport?
    public var treeSize: UInt64 = 0
    public var treeRoot: String?
    public var lastManifestAt: String?
    /// With a witness policy: the largest tree size a quorum of witnesses cosigned.
    public var witnessedTreeSize: UInt64?
    /// Sharded verification: this report's shard and the segments (sequences) it read.
    public var shard: Shard?
    public var shardSegments: [Int]?
    public var findings: [Finding] = []

    /// True when no finding is an error.
    public var intact: Bool { !findings.contains { $0.severity == .error } }

    init(source: String, trust: String, trustedKeyIDs: [String]) {
        self.source = source
        self.trust = trust
        self.trustedKeyIDs = trustedKeyIDs
    }

    enum CodingKeys: String, CodingKey {
        case source, node, chainID, trust, trustedKeyIDs, manifests, segments, heartbeats, sealedEvents, openEvents, backfilledEvents, completeness
        case redactedValues, erasedValues
        case treeSize, treeRoot, lastManifestAt, witnessedTreeSize, shard, shardSegments, findings, intact
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encodeIfPresent(node, forKey: .node)
        try c.encodeIfPresent(chainID, forKey: .chainID)
        try c.encode(trust, forKey: .trust)
        try c.encode(trustedKeyIDs, forKey: .trustedKeyIDs)
        try c.encode(manifests, forKey: .manifests)
        try c.encode(segments, forKey: .segments)
        try c.encode(heartbeats, forKey: .heartbeats)
        try c.encode(sealedEvents, forKey: .sealedEvents)
        try c.encode(openEvents, forKey: .openEvents)
        try c.encode(backfilledEvents, forKey: .backfilledEvents)
        try c.encodeIfPresent(completeness, forKey: .completeness)
        try c.encode(redactedValues, forKey: .redactedValues)
        try c.encodeIfPresent(erasedValues, forKey: .erasedValues)
        try c.encode(treeSize, forKey: .treeSize)
        try c.encodeIfPresent(treeRoot, forKey: .treeRoot)
        try c.encodeIfPresent(lastManifestAt, forKey: .lastManifestAt)
        try c.encodeIfPresent(witnessedTreeSize, forKey: .witnessedTreeSize)
        try c.encodeIfPresent(shard, forKey: .shard)
        try c.encodeIfPresent(shardSegments, forKey: .shardSegments)
        try c.encode(findings, forKey: .findings)
        try c.encode(intact, forKey: .intact)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(String.self, forKey: .source)
        node = try c.decodeIfPresent(String.self, forKey: .node)
        chainID = try c.decodeIfPresent(String.self, forKey: .chainID)
        trust = try c.decode(String.self, forKey: .trust)
        trustedKeyIDs = try c.decode([String].self, forKey: .trustedKeyIDs)
        manifests = try c.decode(Int.self, forKey: .manifests)
        segments = try c.decode(Int.self, forKey: .segments)
        heartbeats = try c.decode(Int.self, forKey: .heartbeats)
        sealedEvents = try c.decode(UInt64.self, forKey: .sealedEvents)
        openEvents = try c.decode(UInt64.self, forKey: .openEvents)
        backfilledEvents = try c.decodeIfPresent(UInt64.self, forKey: .backfilledEvents) ?? 0
        completeness = try c.decodeIfPresent(CompletenessReport.self, forKey: .completeness)
        redactedValues = try c.decodeIfPresent(UInt64.self, forKey: .redactedValues) ?? 0
        erasedValues = try c.decodeIfPresent(UInt64.self, forKey: .erasedValues)
        treeSize = try c.decode(UInt64.self, forKey: .treeSize)
        treeRoot = try c.decodeIfPresent(String.self, forKey: .treeRoot)
        lastManifestAt = try c.decodeIfPresent(String.self, forKey: .lastManifestAt)
        witnessedTreeSize = try c.decodeIfPresent(UInt64.self, forKey: .witnessedTreeSize)
        shard = try c.decodeIfPresent(Shard.self, forKey: .shard)
        shardSegments = try c.decodeIfPresent([Int].self, forKey: .shardSegments)
        findings = try c.decode([Finding].self, forKey: .findings)
    }

    /// Joins the reports of every shard of one store into the report of an unsharded run: the
    /// manifest-level findings (which every shard makes) once, each segment's findings from the
    /// shard that read it, the events read summed. Throws when shards are missing, repeated, of
    /// another store, or disagree on the manifests.
    public static func combine(_ shards: [VerificationReport]) throws -> VerificationReport {
        guard let first = shards.first, let count = first.shard?.count else {
            throw AuditSealError(.usage, "no sharded reports to combine (run verify with --shard I/N --json)")
        }
        let indexes = shards.compactMap { $0.shard?.index }.sorted()
        guard shards.allSatisfy({ $0.shard?.count == count }), indexes == Array(0..<count) else {
            throw AuditSealError(.usage, "the reports are shards \(indexes.map(String.init).joined(separator: ", ")) of \(count): each shard exactly once is needed")
        }
        for r in shards where r.chainID != first.chainID || r.node != first.node || r.manifests != first.manifests || r.treeSize != first.treeSize || r.treeRoot != first.treeRoot {
            throw AuditSealError(.usage, "shard \(r.shard!) is of another store or saw other manifests (\(r.node ?? "?")/\(r.chainID ?? "?"), \(r.manifests) manifests, tree \(r.treeSize)) than shard \(first.shard!)")
        }
        var combined = shards.first { $0.shard?.index == 0 }!
        combined.shard = nil
        combined.shardSegments = nil
        combined.sealedEvents = shards.reduce(0) { $0 + $1.sealedEvents }
        combined.backfilledEvents = shards.reduce(0) { $0 + $1.backfilledEvents }
        combined.redactedValues = shards.reduce(0) { $0 + $1.redactedValues }
        combined.erasedValues = shards.contains { $0.erasedValues != nil } ? shards.reduce(0) { $0 + ($1.erasedValues ?? 0) } : nil
        combined.completeness = shards.compactMap(\.completeness).first
        var seen = Set<String>()
        var findings = [Finding]()
        for r in shards.sorted(by: { $0.shard!.index < $1.shard!.index }) {
            for f in r.findings where seen.insert("\(f.code)|\(f.message)|\(f.file ?? "")|\(f.line ?? -1)|\(f.eventIndex.map(String.init) ?? "")|\(f.sequence ?? -1)").inserted {
                findings.append(f)
            }
        }
        combined.findings = findings
        return combined
    }

    /// Adds a finding.
    public mutating func add(_ code: Finding.Code, _ message: String, severity: Finding.Severity? = nil, file: String? = nil,
                      line: Int? = nil, eventIndex: UInt64? = nil, auditID: String? = nil, sequence: Int? = nil) {
        findings.append(Finding(code: code.rawValue, severity: severity ?? code.defaultSeverity, message: message, file: file, line: line,
                                eventIndex: eventIndex, auditID: auditID, sequence: sequence))
    }
}

extension Finding {
    /// Every finding `verify` (and `verify s3://`) can report: one list with docs/FORMAT.md §8's
    /// (a test compares them). `Finding.code` holds the raw value, so reports stay plain JSON.
    public enum Code: String, CaseIterable, Sendable {
        case badSignature = "bad-signature"
        case chainBroken = "chain-broken"
        case chainIdMismatch = "chain-id-mismatch"
        case chainIdMissing = "chain-id-missing"
        case checkpointInvalid = "checkpoint-invalid"
        case checkpointMismatch = "checkpoint-mismatch"
        case checkpointMissing = "checkpoint-missing"
        case cosignatureInvalid = "cosignature-invalid"
        case emptyStore = "empty-store"
        case eventChanged = "event-changed"
        case eventDeleted = "event-deleted"
        case eventDuplicated = "event-duplicated"
        case eventInserted = "event-inserted"
        case eventReordered = "event-reordered"
        case eventTruncated = "event-truncated"
        case eventsMissing = "events-missing"
        case eventsOverlap = "events-overlap"
        case eventsUnverified = "events-unverified"
        case heartbeatMismatch = "heartbeat-mismatch"
        case leafHintsMissing = "leaf-hints-missing"
        case leafHintsModified = "leaf-hints-modified"
        case manifestChainBroken = "manifest-chain-broken"
        case manifestInvalid = "manifest-invalid"
        case manifestMismatch = "manifest-mismatch"
        case manifestMissing = "manifest-missing"
        case manifestRenamed = "manifest-renamed"
        case manifestUnreadable = "manifest-unreadable"
        case nextKeyMissing = "next-key-missing"
        case noTrustedKey = "no-trusted-key"
        case notWitnessed = "not-witnessed"
        case objectDeleted = "object-deleted"
        case objectOverwritten = "object-overwritten"
        case retentionMissing = "retention-missing"
        case retentionMode = "retention-mode"
        case retentionShort = "retention-short"
        case retiredKey = "retired-key"
        case segmentCorrupt = "segment-corrupt"
        case segmentEventsDiffer = "segment-events-differ"
        case segmentMissing = "segment-missing"
        case segmentModified = "segment-modified"
        case segmentRemoteOnly = "segment-remote-only"
        case segmentsUnreadable = "segments-unreadable"
        case signatureMissing = "signature-missing"
        case tailGap = "tail-gap"
        case treeNodesMismatch = "tree-nodes-mismatch"
        case treeNodesMissing = "tree-nodes-missing"
        case treeNodesModified = "tree-nodes-modified"
        case unknownKey = "unknown-key"
        case unreferencedFile = "unreferenced-file"
        case walDamaged = "wal-damaged"
        case walHeaderMismatch = "wal-header-mismatch"
        case walTornTail = "wal-torn-tail"
        case walUnreadable = "wal-unreadable"

        /// Warnings leave the verdict intact; every other finding is an error.
        public var defaultSeverity: Severity {
            switch self {
            case .walTornTail, .segmentRemoteOnly: return .warning
            default: return .error
            }
        }
    }
}
