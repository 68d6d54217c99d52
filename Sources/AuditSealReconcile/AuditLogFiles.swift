import AuditSealCore
import FoundationEssentials
import Glibc

/// One file the API server's log backend wrote (`--audit-log-path`): the live file, or a rotated
/// one (`audit-2026-11-28T08-31-33.123.log`, gzip-compressed as `….log.gz` with
/// `--audit-log-compress`). A file is known by the SHA-256 of its first line, so its read position
/// follows it through rotation (a rename) and compression (a new file with the same lines).
public struct AuditLogFile: Sendable, Equatable {
    public var path: String
    public var fingerprint: String
    public var compressed: Bool
    /// The configured path itself (still being written), not a rotated copy.
    public var isLive: Bool
}

/// Finds log files and reads their lines.
public enum AuditLogFiles {
    /// The configured paths and their rotated siblings, oldest first (rotated names sort by time),
    /// each configured path last. Missing paths are reported in `missing`; empty files are skipped.
    public static func discover(_ paths: [String], cache: inout [String: (ino: UInt64, size: Int, fingerprint: String)]) -> (files: [AuditLogFile], missing: [String]) {
        var files = [AuditLogFile]()
        var missing = [String]()
        var seen = Set<String>()
        for base in paths {
            let directory = FileIO.directory(of: base)
            let name = PathName.last(base)
            let ext = PathName.extension(name)
            let stem = PathName.deletingExtension(name)
            let rotated = ((try? FileIO.list(directory)) ?? []).filter {
                $0 != name && $0.hasPrefix(stem + "-") && ($0.hasSuffix("." + ext) || $0.hasSuffix("." + ext + ".gz") || (ext.isEmpty && $0.hasSuffix(".gz")))
            }.sorted()
            for candidate in rotated.map({ directory + "/" + $0 }) + [base] where seen.insert(candidate).inserted {
                guard let st = fileStat(candidate) else {
                    if candidate == base { missing.append(base) }
                    continue
                }
                let fingerprint: String
                if let cached = cache[candidate], cached.ino == st.ino, cached.size == st.size {
                    fingerprint = cached.fingerprint
                } else {
                    guard let f = try? firstLineFingerprint(candidate) else { continue }
                    fingerprint = f
                    cache[candidate] = (st.ino, st.size, f)
                }
                files.append(AuditLogFile(path: candidate, fingerprint: fingerprint, compressed: candidate.hasSuffix(".gz"), isLive: candidate == base))
            }
        }
        return (files, missing)
    }

    private static func fileStat(_ path: String) -> (ino: UInt64, size: Int)? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        return (UInt64(st.st_ino), Int(st.st_size))
    }

    /// Hex SHA-256 of the file's first complete line (decompressed), or nil while it has none.
    static func firstLineFingerprint(_ path: String) throws -> String? {
        var head = [UInt8]()
        if path.hasSuffix(".gz") {
            struct Enough: Error {}
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
            defer { close(fd) }
            let d = try GzipDecompressor()
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            do {
                while true {
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    guard n > 0 else { break }
                    try buffer.withUnsafeBytes { p in
                        try d.decompress(UnsafeRawBufferPointer(rebasing: p.prefix(n))) { chunk in
                            head.append(contentsOf: chunk)
                            if head.contains(0x0a) { throw Enough() }
                        }
                    }
                }
            } catch is Enough {}
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while !head.contains(0x0a) {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { break }
                head.append(contentsOf: buffer.prefix(n))
            }
        }
        guard let end = head.firstIndex(of: 0x0a) else { return nil }
        return SHA256.digest(Array(head[..<end])).hex
    }

    /// Up to `limit` bytes of a plain file from `offset`.
    static func read(_ file: AuditLogFile, from offset: UInt64, limit: Int) throws -> [UInt8] {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(file.path)", errno: errno) }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, limit - filled, off_t(offset) + off_t(filled)) }
            if n < 0 { throw AuditSealError.io("cannot read \(file.path)", errno: errno) }
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return out
    }
}
