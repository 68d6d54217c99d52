import CAuditSealZlib

/// A streaming gzip compressor over zlib. Output accumulates in `output` until taken.
public final class GzipCompressor {
    private let stream: OpaquePointer
    private var scratch = [UInt8](repeating: 0, count: 256 * 1024)
    private var finished = false

    /// A compressor at zlib level 0-9.
    public init(level: Int) throws {
        guard (0...9).contains(level), let stream = auditseal_gzip_deflater(Int32(level)) else {
            throw AuditSealError(.compression, "zlib could not start a gzip stream at level \(level)")
        }
        self.stream = stream
    }

    deinit { auditseal_zstream_free(stream) }

    /// Compresses bytes, calling sink with each produced chunk.
    public func compress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(input, finish: false, sink: sink)
    }

    /// Ends the stream (gzip trailer), calling sink with the remaining output.
    public func finish(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished, "gzip stream finished twice")
        finished = true
        try run(UnsafeRawBufferPointer(start: nil, count: 0), finish: true, sink: sink)
    }

    private func run(_ input: UnsafeRawBufferPointer, finish: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while true {
            var consumed = 0
            var produced = 0
            let base = input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + offset }
            let rc = scratch.withUnsafeMutableBufferPointer { out in
                auditseal_zstream_step(stream, base, input.count - offset, &consumed, out.baseAddress, out.count, &produced, finish ? 1 : 0)
            }
            offset += consumed
            if produced > 0 { try scratch.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            if rc == 1 { return }  // Z_STREAM_END
            if rc != 0 && rc != -5 { throw AuditSealError(.compression, "zlib deflate failed with code \(rc)") }
            if !finish && offset == input.count && produced < scratch.count { return }
        }
    }

    /// Compresses a whole buffer into one gzip member.
    public static func gzip(_ data: [UInt8], level: Int = 6) throws -> [UInt8] {
        let c = try GzipCompressor(level: level)
        var out = [UInt8]()
        try data.withUnsafeBytes { try c.compress($0) { out.append(contentsOf: $0) } }
        try c.finish { out.append(contentsOf: $0) }
        return out
    }
}

/// A streaming gzip decompressor over zlib, reading concatenated members as one stream (as gunzip does).
public final class GzipDecompressor {
    private let stream: OpaquePointer
    private var scratch = [UInt8](repeating: 0, count: 256 * 1024)
    private var memberEnded = false

    public init() throws {
        guard let stream = auditseal_gzip_inflater() else {
            throw AuditSealError(.compression, "zlib could not start an inflate stream")
        }
        self.stream = stream
    }

    deinit { auditseal_zstream_free(stream) }

    /// Decompresses input, calling sink with each produced chunk.
    public func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while offset < input.count || !memberEnded {
            if memberEnded {
                guard auditseal_zstream_reset(stream) == 0 else { throw AuditSealError(.compression, "zlib reset failed") }
                memberEnded = false
            }
            var consumed = 0
            var produced = 0
            let base = input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + offset }
            let rc = scratch.withUnsafeMutableBufferPointer { out in
                auditseal_zstream_step(stream, base, input.count - offset, &consumed, out.baseAddress, out.count, &produced, 0)
            }
            offset += consumed
            if produced > 0 { try scratch.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            if rc == 1 { memberEnded = true; if offset == input.count { return }; continue }
            if rc == -5 || (rc == 0 && consumed == 0 && produced == 0) { return }  // needs more input
            if rc != 0 { throw AuditSealError(.compression, "corrupt gzip data (zlib code \(rc))") }
            if offset == input.count && produced < scratch.count { return }
        }
    }

    /// Whether the last member ended cleanly (no truncated stream).
    public var isComplete: Bool { memberEnded }

    /// Decompresses a whole gzip buffer; throws when it is corrupt or truncated.
    public static func gunzip(_ data: [UInt8]) throws -> [UInt8] {
        let d = try GzipDecompressor()
        var out = [UInt8]()
        try data.withUnsafeBytes { try d.decompress($0) { out.append(contentsOf: $0) } }
        guard d.isComplete else { throw AuditSealError(.compression, "gzip data is truncated") }
        return out
    }
}

/// CRC-32 as gzip computes it, used to frame write-ahead records.
public enum CRC32 {
    /// The CRC-32 of bytes, continuing from crc.
    @inline(__always)
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        auditseal_crc32(crc, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
}
