import AuditSealCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable record of what has been uploaded: `DATA_DIR/shipping/ledger`, one line per object
/// confirmed in the bucket, appended and fsync'd before the object counts as shipped.
///
/// Line: `bucket/key<TAB>sha256<TAB>versionID<TAB>retainUntil<LF>`. What still has to be uploaded
/// is every sealed file without a line here, so the queue survives restarts with the files it
/// describes. A line cut short by a crash has no LF and is ignored (its object is HEAD-checked and
/// recorded again on the next round, never uploaded twice). The open ledger holds an exclusive
/// lock on its file: one shipper per data directory.
public final class ShippingLedger: Sendable {
    /// One confirmed object (its SHA-256, version and retention are kept in the file for people).
    public struct Entry: Sendable, Equatable {
        public var object: String
        public var sha256: String
        public var versionID: String
        public var retainUntil: String
    }

    public let path: String
    /// What is recorded, and the open file. Uploads run concurrently: appends and lookups take turns.
    private let state: Locked<State>

    struct State {
        /// Shipped objects that are not segment files (chain.json, key copies), by ledger name.
        var objects = Set<String>()
        /// Shipped segment files: per segments folder ("bucket/…/segments/"), per sequence, a bit per
        /// file kind. A year of segments costs a few megabytes, not a string per object.
        var segments = [String: [Int: UInt8]]()
        var fd: Int32 = -1

        mutating func remember(_ object: String) {
            if let slot = ShippingLedger.segmentSlot(object) {
                segments[slot.folder, default: [:]][slot.sequence, default: 0] |= slot.bit
            } else {
                objects.insert(object)
            }
        }
    }

    /// The file kinds of a sealed sequence, in upload order (their bit is their position).
    static let segmentSuffixes = [".jsonl.gz", ".leaves", ".nodes", ".checkpoint", ".manifest.sig", ".manifest.json"]

    /// (segments folder, sequence, bit) of a segment file's ledger name, or nil for other objects.
    static func segmentSlot(_ object: String) -> (folder: String, sequence: Int, bit: UInt8)? {
        guard let slash = object.lastIndex(of: "/") else { return nil }
        let folder = object[...slash]
        guard folder.hasSuffix("/segments/") else { return nil }
        let name = object[object.index(after: slash)...]
        let stem = name.prefix(12)
        guard stem.count == 12, stem.allSatisfy({ $0.isASCII && $0.isNumber }), let sequence = Int(stem),
              let kind = segmentSuffixes.firstIndex(where: { name.dropFirst(12) == $0 }) else { return nil }
        return (String(folder), sequence, UInt8(1) << UInt8(kind))
    }

    /// Opens (creating) the ledger in a data directory.
    public init(dataDirectory: String) throws {
        let dir = dataDirectory + "/shipping"
        try FileIO.makeDirectories(dir)
        path = dir + "/ledger"
        var state = State()
        if FileIO.exists(path) {
            let bytes = try FileIO.readAll(path: path)
            var valid = 0
            for line in bytes.split(separator: 0x0a, omittingEmptySubsequences: false).dropLast() {
                let fields = line.split(separator: 0x09, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                valid += line.count + 1
                guard fields.count == 4 else { continue }
                state.remember(fields[0])
            }
            if valid < bytes.count {  // a torn last line: drop it so the next append starts clean
                guard truncate(path, off_t(valid)) == 0 else { throw AuditSealError.io("cannot truncate \(path)", errno: errno) }
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        // One shipper per data directory: two would race between HEAD and PUT and write a key twice.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            closeDescriptor(fd)
            throw AuditSealError(.storage, "another auditseal process is shipping from \(dataDirectory) (\(path) is locked)")
        }
        state.fd = fd
        self.state = Locked(state)
        try FileIO.syncDirectory(dir)
    }

    deinit { close() }

    /// Releases the file and its lock (also done when the ledger is freed).
    public func close() {
        state.withLock {
            if $0.fd >= 0 { closeDescriptor($0.fd) }
            $0.fd = -1
        }
    }

    /// Whether `bucket/key` is recorded as shipped.
    public func contains(_ object: String) -> Bool {
        state.withLock { s in
            if let slot = Self.segmentSlot(object) { return (s.segments[slot.folder]?[slot.sequence] ?? 0) & slot.bit != 0 }
            return s.objects.contains(object)
        }
    }

    /// The store-relative paths ("segments/NAME") of segment files a ledger in this data directory
    /// records as shipped: for `verify` of a store whose local retention deleted some of them.
    public static func shippedSegmentFiles(dataDirectory: String) -> Set<String> {
        Set(ShippedSegments.hashes(dataDirectory: dataDirectory).keys)
    }

    /// Appends and fsyncs an entry.
    public func record(_ entry: Entry) throws {
        let line = [entry.object, entry.sha256, entry.versionID, entry.retainUntil].joined(separator: "\t") + "\n"
        try state.withLock { s in
            try Array(line.utf8).withUnsafeBytes { try FileIO.writeAll(fd: s.fd, $0, path: path) }
            try FileIO.sync(fd: s.fd, path: path)
            s.remember(entry.object)
        }
    }
}

/// libc's close(2), named apart from `ShippingLedger.close()`.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
