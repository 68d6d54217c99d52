import AuditSealCore
import FoundationEssentials

/// What a witness has cosigned, per log origin: the latest size and root. Persisted in
/// `DATA_DIR/state.json` (written to a temporary file, fsync'd, renamed, directory fsync'd) before
/// any cosignature is returned, so a witness killed at any point never cosigns a smaller or a
/// conflicting tree after a restart.
public struct WitnessState: Codable, Sendable, Equatable {
    public struct Head: Codable, Sendable, Equatable {
        public var size: UInt64
        public var root: String
        public var cosignedAt: String
    }

    public var format = "auditseal-witness-state/v1"
    public var logs: [String: Head] = [:]

    public init() {}

    public static func load(dataDirectory: String) throws -> WitnessState {
        let path = dataDirectory + "/state.json"
        guard FileIO.exists(path) else { return WitnessState() }
        return try StableJSON.decode(WitnessState.self, from: try FileIO.readAll(path: path))
    }

    public func save(dataDirectory: String) throws {
        try FileIO.writeAtomically(path: dataDirectory + "/state.json", bytes: try StableJSON.encode(self) + [0x0a], mode: 0o600)
    }
}
