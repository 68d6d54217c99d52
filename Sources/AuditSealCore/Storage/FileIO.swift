#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable file operations over POSIX calls: every write that must survive a crash is written to a
/// temporary name, fsync'd, renamed into place, and its directory fsync'd.
public enum FileIO {
    /// The whole content of a file: read straight into an array of the file's size (one byte more,
    /// to see its end in the same read), not through a zeroed 1 MiB buffer per call, which cost
    /// more than the reading for the many small files verify opens.
    public static func readAll(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        defer { close(fd) }
        var st = stat()
        var capacity = fstat(fd, &st) == 0 && st.st_size > 0 ? Int(st.st_size) + 1 : 64 << 10
        var out = [UInt8]()
        while true {
            var failure: Int32 = 0
            var ended = false
            let piece = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                count = 0
                while count < buffer.count {
                    let n = read(fd, buffer.baseAddress! + count, buffer.count - count)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return
                    }
                    if n == 0 {
                        ended = true
                        return
                    }
                    count += n
                }
            }
            if failure != 0 { throw AuditSealError.io("cannot read \(path)", errno: failure) }
            if out.isEmpty { out = piece } else { out += piece }
            if ended { return out }
            capacity = max(capacity, 1 << 20)  // longer than it was (or of unknown size): go on in larger pieces
        }
    }

    /// Writes all bytes to fd, retrying short writes.
    public static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditSealError.io("cannot write \(path)", errno: errno)
            }
            offset += n
        }
    }

    /// Flushes a file's data to stable storage.
    public static func sync(fd: Int32, path: String) throws {
        #if canImport(Glibc)
        let rc = fdatasync(fd)
        #else
        let rc = fsync(fd)
        #endif
        guard rc == 0 else { throw AuditSealError.io("cannot fsync \(path)", errno: errno) }
    }

    /// fsyncs a directory so that renames and creations in it are durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open directory \(path)", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw AuditSealError.io("cannot fsync directory \(path)", errno: errno) }
    }

    /// Creates a new file (failing if it exists) with the given bytes and mode, durably.
    public static func writeNew(path: String, bytes: [UInt8], mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AuditSealError.io("cannot create \(path)", errno: errno) }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: path) }
        try sync(fd: fd, path: path)
        try syncDirectory(directory(of: path))
    }

    /// Replaces path atomically: write to a temporary name, fsync, rename, fsync the directory.
    public static func writeAtomically(path: String, bytes: [UInt8], mode: mode_t = 0o644) throws {
        let temp = path + ".tmp"
        _ = unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw AuditSealError.io("cannot create \(temp)", errno: errno) }
        do {
            try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: temp) }
            try sync(fd: fd, path: temp)
            _ = fchmod(fd, mode)
            close(fd)
        } catch {
            close(fd)
            _ = unlink(temp)
            throw error
        }
        try rename(from: temp, to: path)
    }

    /// Renames durably (the directory is fsync'd afterwards).
    public static func rename(from: String, to: String) throws {
        guard Glibc_rename(from, to) == 0 else { throw AuditSealError.io("cannot rename \(from) to \(to)", errno: errno) }
        try syncDirectory(directory(of: to))
    }

    /// Creates a directory and its parents (mode 0750) when missing; the parent of each directory
    /// created is fsync'd, so that the new entry survives a power cut (docs/FORMAT.md §3).
    public static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + part
            if mkdir(current, 0o750) == 0 {
                try syncDirectory(parent)
            } else if errno != EEXIST {
                throw AuditSealError.io("cannot create directory \(current)", errno: errno)
            }
        }
    }

    /// The names in a directory (without . and ..), sorted; empty when it does not exist.
    public static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw AuditSealError.io("cannot list \(path)", errno: errno)
        }
        defer { closedir(dir) }
        var names = [String]()
        // A dirent is only as long as its name: read the name in place, never copy the whole
        // 256-byte d_name out of the record (past its end for the last record of readdir's buffer,
        // which AddressSanitizer reported).
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Whether a file exists.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// The size of a file, or nil when it does not exist.
    public static func size(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : nil
    }

    /// The folder part of a path.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

private func Glibc_rename(_ from: String, _ to: String) -> Int32 {
    rename(from, to)
}
