import FoundationEssentials
import Glibc

/// An anonymous scratch file for a large request body or its stored lines: created in a spool
/// directory and unlinked at once, so that nothing is left behind by a crash. Filled by appending,
/// then mapped read-only as `EventBytes`. Never fsync'd: it only has to outlive one request.
public final class SpoolFile {
    private var fd: Int32
    private let path: String
    /// Bytes appended so far.
    public private(set) var count = 0

    /// Creates the file in `directory` (which must exist).
    public init(directory: String) throws {
        var template = Array((directory + "/spool-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw AuditSealError.io("cannot create a spool file in \(directory)", errno: errno) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        _ = unlink(path)
        self.fd = fd
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends bytes; fails with the errno of write(2) (ENOSPC on a full disk).
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        try FileIO.writeAll(fd: fd, bytes, path: path)
        count += bytes.count
    }

    /// Maps everything appended, read-only. The file is closed; its pages live on in the map.
    public func map() throws -> EventBytes {
        defer { close(fd); fd = -1 }
        return EventBytes(mapping: try FileMapping(fd: fd, count: count, path: path))
    }
}
