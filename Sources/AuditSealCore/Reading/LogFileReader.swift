import FoundationEssentials
import Glibc

/// An audit log file read piece by piece, plain or gzip (by its magic bytes), with memory bounded
/// by the piece asked for, whatever the file's size: `import` and reconciliation read files of
/// gigabytes this way. Offsets count decompressed bytes. Reading forward from the last piece costs
/// only the new bytes; reading a compressed file backwards starts its stream again.
public final class LogFileReader {
    public let path: String
    /// Whether the file is gzip (one or more members, read as one stream, as gunzip does).
    public let compressed: Bool
    private let fd: Int32
    // Compressed: the decompressed bytes [windowStart, windowStart + window.count) held, and the
    // stream's state.
    private var decompressor: GzipDecompressor?
    private var window = [UInt8]()
    private var windowStart: UInt64 = 0
    private var rawOffset: off_t = 0
    private var ended = false

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        self.fd = fd
        var magic = [UInt8](repeating: 0, count: 2)
        let n = magic.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, 2, 0) }
        compressed = n == 2 && magic == [0x1f, 0x8b]
    }

    deinit { close(fd) }

    /// Up to `limit` bytes of content from `offset`; fewer only at the end of the content. A
    /// compressed file that ends inside a gzip member throws (truncated), once its end is reached.
    public func read(from offset: UInt64, limit: Int) throws -> [UInt8] {
        compressed ? try readCompressed(from: offset, limit: limit) : try readPlain(from: offset, limit: limit)
    }

    private func readPlain(from offset: UInt64, limit: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, limit - filled, off_t(offset) + off_t(filled)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditSealError.io("cannot read \(path)", errno: errno)
            }
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return out
    }

    private func readCompressed(from offset: UInt64, limit: Int) throws -> [UInt8] {
        if decompressor == nil || offset < windowStart {
            decompressor = try GzipDecompressor()
            window.removeAll(keepingCapacity: true)
            windowStart = 0
            rawOffset = 0
            ended = false
        }
        // Drop what lies before offset (what is not held yet is skipped as it is produced).
        let drop = Int(min(UInt64(window.count), offset - windowStart))
        window.removeFirst(drop)
        windowStart += UInt64(drop)
        let want = offset + UInt64(limit)
        var block = [UInt8](repeating: 0, count: 64 << 10)  // small: a compressed block may inflate 30-fold past what was asked for
        while windowStart + UInt64(window.count) < want && !ended {
            let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, rawOffset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditSealError.io("cannot read \(path)", errno: errno)
            }
            if n == 0 {
                ended = true
                guard decompressor!.isComplete || rawOffset == 0 else { throw AuditSealError(.compression, "\(path): gzip data is truncated") }
                break
            }
            rawOffset += off_t(n)
            try block.withUnsafeBytes { raw in
                try decompressor!.decompress(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { chunk in
                    var piece = chunk
                    if window.isEmpty && windowStart < offset {
                        // Still before offset: skip.
                        let skip = Int(min(UInt64(piece.count), offset - windowStart))
                        windowStart += UInt64(skip)
                        piece = UnsafeRawBufferPointer(rebasing: piece[skip...])
                    }
                    window.append(contentsOf: piece)
                }
            }
        }
        let start = Int(offset - windowStart)
        guard start < window.count else { return [] }
        return Array(window[start..<min(window.count, start + limit)])
    }
}
