/// How a store is laid out on disk and when it seals (docs/FORMAT.md, "Directory layout").
public struct StoreConfiguration: Sendable {
    /// The data directory.
    public var dataDirectory: String
    /// This node's name, written into manifests and checkpoint origins.
    public var nodeName: String
    /// Seal the open segment once it holds this many bytes.
    public var segmentMaxBytes: Int = 64 << 20
    /// Seal a non-empty open segment once it is this old (seconds).
    public var segmentMaxAge: Double = 60
    /// Write a signed heartbeat manifest when no manifest was written for this long (seconds).
    public var heartbeatInterval: Double = 60
    /// zlib level for sealed segments.
    public var gzipLevel: Int = 6
    /// How many of the most recent events are remembered to drop re-sent duplicates (same auditID and stage).
    public var duplicateWindow: Int = 100_000

    public init(dataDirectory: String, nodeName: String) {
        self.dataDirectory = dataDirectory
        self.nodeName = nodeName
    }
}

/// Paths inside a data directory.
public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var walDirectory: String { root + "/wal" }
    public var segmentsDirectory: String { root + "/segments" }
    public var keysDirectory: String { root + "/keys" }
    public var chainFile: String { root + "/chain.json" }
    public var lockFile: String { root + "/LOCK" }
    /// Scratch space for large request bodies (anonymous files, never part of the store).
    public var spoolDirectory: String { root + "/spool" }
    /// Encrypted originals of redacted values (docs/FORMAT.md §12).
    public var vaultDirectory: String { root + "/vault" }

    /// The write-ahead segment whose first event has this index: 20 digits, so names sort in chain order.
    public func walPath(firstIndex: UInt64) -> String {
        let s = String(firstIndex)
        return walDirectory + "/" + String(repeating: "0", count: max(0, 20 - s.count)) + s + ".wal"
    }

    public func segmentPath(_ sequence: Int) -> String { segmentsDirectory + "/" + Manifest.stem(sequence) + ".jsonl.gz" }
    public func leafHintsPath(_ sequence: Int) -> String { segmentsDirectory + "/" + Manifest.stem(sequence) + ".leaves" }
    public func treeNodesPath(_ sequence: Int) -> String { segmentsDirectory + "/" + Manifest.stem(sequence) + ".nodes" }
    public func manifestPath(_ sequence: Int) -> String { segmentsDirectory + "/" + Manifest.stem(sequence) + ".manifest.json" }
    /// Manifest `sequence`, decoded: the one reader of a manifest file by number (its signature is
    /// the Verifier's to check; recovery also checks its structure).
    public func manifest(_ sequence: Int) throws -> Manifest { try Manifest.decode(try FileIO.readAll(path: manifestPath(sequence))) }
    public func signaturePath(_ sequence: Int) -> String { segmentsDirectory + "/" + Manifest.stem(sequence) + ".manifest.sig" }
    public func checkpointPath(_ sequence: Int) -> String { segmentsDirectory + "/" + Manifest.stem(sequence) + ".checkpoint" }

    /// Sequence numbers of the manifests present, ascending.
    public func manifestSequences() throws -> [Int] {
        try FileIO.list(segmentsDirectory).compactMap(Manifest.sequence(ofFileName:)).sorted()
    }

    /// Write-ahead segment paths, in chain order.
    public func walPaths() throws -> [String] {
        try FileIO.list(walDirectory).filter { $0.hasSuffix(".wal") }.map { walDirectory + "/" + $0 }
    }
}

/// The identity of a store's chain, written once to chain.json.
public struct ChainIdentity: Codable, Sendable, Equatable {
    public var chainID: String
    public var node: String
    public var createdAt: String
}
