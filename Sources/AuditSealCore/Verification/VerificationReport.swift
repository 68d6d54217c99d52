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

/// The outcome of verifying one store.
public struct VerificationReport: Encodable, Sendable {
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
    public var treeSize: UInt64 = 0
    public var treeRoot: String?
    public var lastManifestAt: String?
    /// With a witness policy: the largest tree size a quorum of witnesses cosigned.
    public var witnessedTreeSize: UInt64?
    public var findings: [Finding] = []

    /// True when no finding is an error.
    public var intact: Bool { !findings.contains { $0.severity == .error } }

    init(source: String, trust: String, trustedKeyIDs: [String]) {
        self.source = source
        self.trust = trust
        self.trustedKeyIDs = trustedKeyIDs
    }

    enum CodingKeys: String, CodingKey {
        case source, node, chainID, trust, trustedKeyIDs, manifests, segments, heartbeats, sealedEvents, openEvents
        case treeSize, treeRoot, lastManifestAt, witnessedTreeSize, findings, intact
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
        try c.encode(treeSize, forKey: .treeSize)
        try c.encodeIfPresent(treeRoot, forKey: .treeRoot)
        try c.encodeIfPresent(lastManifestAt, forKey: .lastManifestAt)
        try c.encodeIfPresent(witnessedTreeSize, forKey: .witnessedTreeSize)
        try c.encode(findings, forKey: .findings)
        try c.encode(intact, forKey: .intact)
    }

    /// Adds a finding.
    public mutating func add(_ code: String, _ message: String, severity: Finding.Severity = .error, file: String? = nil,
                      line: Int? = nil, eventIndex: UInt64? = nil, auditID: String? = nil, sequence: Int? = nil) {
        findings.append(Finding(code: code, severity: severity, message: message, file: file, line: line,
                                eventIndex: eventIndex, auditID: auditID, sequence: sequence))
    }
}
