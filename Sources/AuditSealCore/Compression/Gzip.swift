import CAuditSealZlib
import CAuditSealISAL

/// A streaming gzip compressor: ISA-L's igzip at levels 1-3 (what the receiver seals with: about
/// 14x zlib level 1's speed at a similar ratio, Benchmarks/inflate.sh), zlib at 0 and 4-9.
public final class GzipCompressor {
    private enum Backend {
        case zlib(OpaquePointer)
        case isal(OpaquePointer)
    }
    private let backend: Backend
    /// Output buffer, left uninitialized: only the bytes the codec wrote are read, and a small
    /// stream touches only its first pages (zeroing all of it took 12 % of the verifier fuzz
    /// target's time).
    private var scratch = [UInt8](unsafeUninitializedCapacity: 256 * 1024) { _, count in count = 256 * 1024 }
    /// ISA-L is fed in large pieces: the sealer hands over one line at a time.
    private var pending = [UInt8]()
    private var finished = false

    /// A compressor at level 0-9.
    public init(level: Int) throws {
        guard (0...9).contains(level) else { throw AuditSealError(.compression, "gzip level must be 0-9, not \(level)") }
        if (1...3).contains(level) {
            guard let s = auditseal_deflater_new(Int32(level)) else { throw AuditSealError(.compression, "ISA-L could not start a gzip stream at level \(level)") }
            backend = .isal(s)
            pending.reserveCapacity(1 << 20)
        } else {
            guard let stream = auditseal_gzip_deflater(Int32(level)) else { throw AuditSealError(.compression, "zlib could not start a gzip stream at level \(level)") }
            backend = .zlib(stream)
        }
    }

    deinit {
        switch backend {
        case .zlib(let s): auditseal_zstream_free(s)
        case .isal(let s): auditseal_deflater_free(s)
        }
    }

    /// Compresses bytes, calling sink with each produced chunk.
    public func compress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch backend {
        case .zlib(let s): try runZlib(s, input, finish: false, sink: sink)
        case .isal(let s):
            if pending.count + input.count <= 1 << 20 {
                pending.append(contentsOf: input)
                return
            }
            try pending.withUnsafeBytes { try runIsal(s, $0, finish: false, sink: sink) }
            pending.removeAll(keepingCapacity: true)
            if input.count >= 1 << 20 { try runIsal(s, input, finish: false, sink: sink) } else { pending.append(contentsOf: input) }
        }
    }

    /// Ends the stream (gzip trailer), calling sink with the remaining output.
    public func finish(sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished, "gzip stream finished twice")
        finished = true
        switch backend {
        case .zlib(let s): try runZlib(s, UnsafeRawBufferPointer(start: nil, count: 0), finish: true, sink: sink)
        case .isal(let s):
            try pending.withUnsafeBytes { try runIsal(s, $0, finish: true, sink: sink) }
            pending.removeAll()
        }
    }

    private func runIsal(_ s: OpaquePointer, _ input: UnsafeRawBufferPointer, finish: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        while true {
            var consumed = 0
            var produced = 0
            var done: Int32 = 0
            let base = input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + offset }
            let rc = scratch.withUnsafeMutableBufferPointer { out in
                auditseal_deflater_step(s, base, input.count - offset, &consumed, out.baseAddress, out.count, &produced, finish ? 1 : 0, &done)
            }
            offset += consumed
            if rc != 0 { throw AuditSealError(.compression, "ISA-L deflate failed with code \(rc)") }
            if produced > 0 { try scratch.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            if finish ? done != 0 : (offset == input.count && produced < scratch.count) { return }
        }
    }

    private func runZlib(_ stream: OpaquePointer, _ input: UnsafeRawBufferPointer, finish: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
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

/// A streaming gzip decompressor over ISA-L's igzip (3-4x zlib's speed on sealed segments,
/// Benchmarks/inflate.sh), reading concatenated members as one stream (as gunzip does). Each
/// member's CRC-32 and size are checked at its end.
public final class GzipDecompressor {
    private let state: OpaquePointer
    /// Output buffer, left uninitialized: only the bytes the codec wrote are read, and a small
    /// stream touches only its first pages (zeroing all of it took 12 % of the verifier fuzz
    /// target's time).
    private var scratch = [UInt8](unsafeUninitializedCapacity: 256 * 1024) { _, count in count = 256 * 1024 }
    private var memberEnded = false

    public init() throws {
        guard let state = auditseal_inflater_new() else {
            throw AuditSealError(.compression, "could not start an inflate stream")
        }
        self.state = state
    }

    deinit { auditseal_inflater_free(state) }

    /// Decompresses input, calling sink with each produced chunk.
    public func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var offset = 0
        var outputFull = false
        // Go on while input is left, or while the last step filled the output (more may be pending).
        while offset < input.count || outputFull {
            if memberEnded {
                auditseal_inflater_reset(state)
                memberEnded = false
            }
            var consumed = 0
            var produced = 0
            var ended: Int32 = 0
            let base = input.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + offset }
            let rc = scratch.withUnsafeMutableBufferPointer { out in
                auditseal_inflater_step(state, base, input.count - offset, &consumed, out.baseAddress, out.count, &produced, &ended)
            }
            offset += consumed
            if rc != 0 {
                throw AuditSealError(.compression, rc == -6 ? "corrupt gzip data (checksum mismatch)" : "corrupt gzip data (ISA-L code \(rc))")
            }
            if produced > 0 { try scratch.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            outputFull = produced == scratch.count
            if ended != 0 {
                memberEnded = true
                outputFull = false
                continue
            }
            if consumed == 0 && produced == 0 { return }  // needs more input
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
