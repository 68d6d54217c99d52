/// Where a verifier reads a store's files from: a local data directory, or (for shipped stores) an
/// object store. Paths are relative to the store root, e.g. "segments/000000000001.manifest.json".
public protocol StoreSource: Sendable {
    /// A human-readable name for reports.
    var name: String { get }
    /// File names in a folder of the store ("segments", "wal", "keys"), sorted; empty when absent.
    func list(_ folder: String) throws -> [String]
    /// A file's bytes, or nil when it does not exist.
    func read(_ path: String) throws -> [UInt8]?
    /// A local path for a write-ahead segment, when the source has one (object stores do not).
    func localPath(_ path: String) -> String?
    /// Brings files within reach of `read` (a bucket downloads them, into memory); a directory
    /// has them already. The verifier calls it with each window of segment files before checking them.
    func fetch(_ paths: [String]) async throws
    /// Lets go of fetched files (after their window's checks).
    func release(_ paths: [String])
}

extension StoreSource {
    public func fetch(_ paths: [String]) async throws {}
    public func release(_ paths: [String]) {}
}

/// A data directory on the local file system.
public struct DirectorySource: StoreSource {
    public let root: String
    public var name: String { root }

    public init(root: String) { self.root = root }

    public func list(_ folder: String) throws -> [String] { try FileIO.list(root + "/" + folder) }

    public func read(_ path: String) throws -> [UInt8]? {
        let full = root + "/" + path
        guard FileIO.exists(full) else { return nil }
        return try FileIO.readAll(path: full)
    }

    public func localPath(_ path: String) -> String? { root + "/" + path }
}
