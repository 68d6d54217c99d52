import FoundationEssentials

/// Something the watcher found in the bucket: a verification error, a tail gap, a chain restart,
/// a retention problem or a replaced object version.
public struct WatchFinding: Sendable, Codable, Equatable {
    /// The finding code (`bad-signature`, `tail-gap`, `chain-restart`, `object-overwritten`, ...).
    public var kind: String
    public var node: String
    public var chainID: String
    public var file: String?
    public var sequence: Int?
    public var message: String
    /// When the watcher first saw it.
    public var seenAt: Date

    /// What makes two sightings the same finding (reported once): kind, place, and for a tail
    /// gap the manifest it stopped at, so that a new gap after progress is a new finding.
    public var fingerprint: String {
        [kind, node, chainID, file ?? "", sequence.map(String.init) ?? ""].joined(separator: "|")
    }
}
