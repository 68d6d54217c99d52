import AuditSealCore
import FoundationEssentials

/// What the watcher keeps of one store between polls and across restarts, in
/// `DATA_DIR/stores/NODE/CHAIN-ID/state.json` beside a mirror of the store's small files
/// (chain.json, keys, manifests, signatures, checkpoints, leaf hints). Segment data is downloaded,
/// verified and deleted, unless a finding names it.
struct StoreWatchState: Codable, Sendable {
    var storePrefix: String
    var node: String
    var chainID: String
    /// chain.json's createdAt: orders a node's chains.
    var createdAt: String?
    /// Original version ID of every object mirrored (by path in the store): never downloaded again.
    var versions: [String: String] = [:]
    var lastManifestSequence = 0
    var lastManifestSealedAt: String?
    var lastManifestClosing = false
    var heartbeatIntervalSeconds = 60
    var treeSize: UInt64 = 0
    /// Fingerprints of findings already reported.
    var reported: Set<String> = []
    var lastFullVerification: Date?
    /// From the newest completeness report seen: copies that differed, and drops at the source by plugin.
    var mismatchedEvents: UInt64?
    var sourceDropped: [String: UInt64]?

    static func load(path: String) -> StoreWatchState? {
        guard let bytes = try? FileIO.readAll(path: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(StoreWatchState.self, from: Data(bytes))
    }

    /// Written atomically (temporary file, fsync, rename).
    func save(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        try FileIO.writeAtomically(path: path, bytes: Array(try encoder.encode(self)), mode: 0o600)
    }
}
