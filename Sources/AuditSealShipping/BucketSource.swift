import AuditSealCore
import FoundationEssentials

/// One store in a bucket as a `StoreSource`, for readers of shipped stores (`verify`, `cat`,
/// `status`, `prove` of s3://...): its objects listed once, each read as its **original** version
/// (the one auditseal wrote and locked; a later version or a delete marker cannot hide it), held in
/// memory, never written to disk. The small files (chain.json, keys, manifests, signatures,
/// checkpoints, cosignatures, reconcile reports) are fetched when it opens; segment data
/// (`.jsonl.gz`, `.leaves`, `.nodes`) when a reader asks for it (`fetch`, or `get`).
public final class BucketSource: StoreSource {
    public let name: String
    public let client: S3Client
    public let storePrefix: String
    /// The store's objects by path relative to the store (original versions, with their history).
    public let objects: [String: StoreObject]
    private let folders: [String: [String]]
    private let fetched = Locked<[String: [UInt8]]>([:])
    /// What each GET answered (retention), by relative path.
    private let heads = Locked<[String: ObjectHead]>([:])

    /// Segment data, fetched only when asked for.
    public static func isSegmentData(_ relative: String) -> Bool {
        relative.hasSuffix(".jsonl.gz") || relative.hasSuffix(".leaves") || relative.hasSuffix(".nodes")
    }

    /// Lists the store under `storePrefix` (ending in "/") and fetches the files `fetchNow` picks
    /// (default: everything but segment data).
    public init(client: S3Client, storePrefix: String,
                fetchNow: (String) -> Bool = { !BucketSource.isSegmentData($0) }) async throws {
        self.client = client
        self.storePrefix = storePrefix
        name = "s3://\(client.endpoint.bucket)/\(storePrefix)"
        let grouped = StoreObject.group(try await client.listVersions(prefix: storePrefix), storePrefix: storePrefix)
        objects = Dictionary(grouped.map { ($0.relative, $0) }, uniquingKeysWith: { a, _ in a })
        var folders = [String: [String]]()
        for relative in objects.keys {
            guard let slash = relative.lastIndex(of: "/") else { continue }
            folders[String(relative[..<slash]), default: []].append(String(relative[relative.index(after: slash)...]))
        }
        self.folders = folders.mapValues { $0.sorted() }
        try await fetch(objects.keys.filter(fetchNow).sorted())
    }

    public func list(_ folder: String) throws -> [String] { folders[folder] ?? [] }

    /// A fetched file's bytes; nil when the store has no such object. An object not fetched yet is
    /// an error (a reader must `fetch` first: `read` never waits on the network).
    public func read(_ path: String) throws -> [UInt8]? {
        if let bytes = fetched.withLock({ $0[path] }) { return bytes }
        guard objects[path] != nil else { return nil }
        throw AuditSealError(.storage, "\(name)\(path) was not fetched before it was read")
    }

    public func localPath(_ path: String) -> String? { nil }

    /// Downloads the original versions of these files (those in the store), a few at a time.
    public func fetch(_ paths: [String]) async throws {
        let held = fetched.withLock { Set($0.keys) }
        let wanted = paths.filter { objects[$0] != nil && !held.contains($0) }
        var next = wanted.makeIterator()
        try await withThrowingTaskGroup(of: Void.self) { group in
            func start() {
                guard let relative = next.next() else { return }
                group.addTask { [self] in
                    guard let (bytes, head) = try await get(relative) else { return }
                    fetched.withLock { $0[relative] = bytes }
                    heads.withLock { $0[relative] = head }
                }
            }
            for _ in 0..<8 { start() }
            while try await group.next() != nil { start() }
        }
    }

    public func release(_ paths: [String]) {
        fetched.withLock { held in for path in paths { held[path] = nil } }
    }

    /// One object's original version, not kept (a reader streaming segments).
    public func get(_ relative: String) async throws -> (bytes: [UInt8], head: ObjectHead)? {
        guard let object = objects[relative] else { return nil }
        return try await client.getObject(key: object.key, versionID: object.originalVersionID)
    }

    /// What the GETs so far answered, by relative path (their Object Lock retention).
    public var answered: [String: ObjectHead] { heads.withLock { $0 } }
}
