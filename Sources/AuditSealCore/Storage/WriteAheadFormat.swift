#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The header that opens every write-ahead segment: the chain state its first record follows.
public struct WriteAheadHeader: Codable, Sendable, Equatable {
    public var chainID: String
    public var firstIndex: UInt64
    public var chainHashBefore: String
    public var treeFrontier: [String]
    public var createdAt: String
}

/// Byte layout of write-ahead segments (docs/FORMAT.md, "Write-ahead segments"):
///
///     "ASWAL002" | u32be headerLength | u32be crc32(header) | header JSON
///     then per event: u32be lineLength | first 4 bytes of leafHash(line) | u64be index | line
///
/// The record's check value is the start of the event's RFC 6962 leaf hash, which the committer
/// computes anyway and every reader recomputes to rebuild the chain: one SHA-256 pass serves both.
public enum WriteAheadFormat {
    static let magic = Array("ASWAL002".utf8)
    static let recordOverhead = 16
    /// Largest line a record may hold (the API server has no cap; 1 GiB bodies are the limit).
    static let maxLineLength = 1 << 30

    static func encodeHeader(_ header: WriteAheadHeader) throws -> [UInt8] {
        let json = try StableJSON.encode(header)
        var out = magic
        appendBE32(UInt32(json.count), to: &out)
        appendBE32(json.withUnsafeBytes { CRC32.checksum($0) }, to: &out)
        out += json
        return out
    }

    /// Appends one framed record to out; `leaf` is the line's leaf hash.
    @inline(__always)
    static func appendRecord(index: UInt64, line: UnsafeRawBufferPointer, leaf: SHA256Digest, to out: inout [UInt8]) {
        var be = index.bigEndian
        appendBE32(UInt32(line.count), to: &out)
        leaf.withUnsafeBytes { out.append(contentsOf: $0.prefix(4)) }
        withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
        out.append(contentsOf: line)
    }

    /// The record framing, exposed for docs/FORMAT.md's test vectors.
    public static func appendRecordForVectors(index: UInt64, line: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        appendRecord(index: index, line: line, leaf: MerkleHash.leaf(line, using: SHA256()), to: &out)
    }

    @inline(__always)
    static func appendBE32(_ v: UInt32, to out: inout [UInt8]) {
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
    }

    @inline(__always)
    static func readBE32(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(p[offset]) << 24 | UInt32(p[offset + 1]) << 16 | UInt32(p[offset + 2]) << 8 | UInt32(p[offset + 3])
    }

    @inline(__always)
    static func readBE64(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(readBE32(p, offset)) << 32 | UInt64(readBE32(p, offset + 4))
    }
}

/// Why a write-ahead segment's reading stopped before its end.
public enum WriteAheadDamage: Sendable, Equatable, CustomStringConvertible {
    case truncatedRecord(offset: Int)
    case checksumMismatch(offset: Int, index: UInt64)
    case unexpectedIndex(offset: Int, expected: UInt64, found: UInt64)

    /// Byte offset where the valid prefix ends.
    public var offset: Int {
        switch self {
        case .truncatedRecord(let o), .checksumMismatch(let o, _), .unexpectedIndex(let o, _, _): return o
        }
    }

    public var description: String {
        switch self {
        case .truncatedRecord(let o): return "torn record at byte \(o)"
        case .checksumMismatch(let o, let i): return "checksum mismatch in record for index \(i) at byte \(o)"
        case .unexpectedIndex(let o, let e, let f): return "record at byte \(o) has index \(f), expected \(e)"
        }
    }
}

/// Reads a write-ahead segment front to back in bounded memory, one record at a time.
public struct WriteAheadReader {
    /// What reading found.
    public struct Outcome: Sendable {
        public var header: WriteAheadHeader
        /// Offset just past the last valid record.
        public var validLength: Int
        public var recordCount: Int
        /// Set when the file does not end cleanly after the last valid record.
        public var damage: WriteAheadDamage?
    }

    public let path: String

    public init(path: String) { self.path = path }

    /// Reads every valid record, calling body(index, line, leaf hash) for each; stops at the first
    /// damaged record.
    /// With `knownLeaves` (the committer's hashes of these very records), each record is matched
    /// against its known leaf by check value instead of being hashed again.
    public func read(knownLeaves: [SHA256Digest]? = nil, _ body: (UInt64, UnsafeRawBufferPointer, SHA256Digest) throws -> Void) throws -> Outcome {
        let sha = SHA256()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8]()
        var bufferStart = 0  // file offset of buffer[0]
        var eof = false
        var chunk = [UInt8](repeating: 0, count: 1 << 20)

        // Ensures buffer holds at least `need` bytes from file offset `at`; false at end of file.
        func fill(at: Int, need: Int) throws -> Bool {
            if at - bufferStart > (1 << 20) {
                buffer.removeFirst(at - bufferStart)
                bufferStart = at
            }
            while buffer.count - (at - bufferStart) < need {
                if eof { return false }
                let n = chunk.withUnsafeMutableBytes { Glibc_read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AuditSealError.io("cannot read \(path)", errno: errno)
                }
                if n == 0 { eof = true; return false }
                buffer.append(contentsOf: chunk[0..<n])
            }
            return true
        }

        let magic = WriteAheadFormat.magic
        guard try fill(at: 0, need: 16), Array(buffer[0..<8]) == magic else {
            throw AuditSealError.storage("\(path) is not a write-ahead segment (bad or missing header)")
        }
        let (headerLength, headerCRC) = buffer.withUnsafeBytes { (Int(WriteAheadFormat.readBE32($0, 8)), WriteAheadFormat.readBE32($0, 12)) }
        guard headerLength < 1 << 20, try fill(at: 16, need: headerLength) else {
            throw AuditSealError.storage("\(path) has a truncated header")
        }
        let headerBytes = Array(buffer[16..<(16 + headerLength)])
        guard headerBytes.withUnsafeBytes({ CRC32.checksum($0) }) == headerCRC else {
            throw AuditSealError.storage("\(path) has a corrupt header (checksum mismatch)")
        }
        let header = try StableJSON.decode(WriteAheadHeader.self, from: headerBytes)
        var offset = 16 + headerLength
        var expected = header.firstIndex
        var count = 0
        var damage: WriteAheadDamage?
        while true {
            guard try fill(at: offset, need: WriteAheadFormat.recordOverhead) else {
                if buffer.count - (offset - bufferStart) > 0 { damage = .truncatedRecord(offset: offset) }
                break
            }
            let (length, check, index) = buffer.withUnsafeBytes { p -> (Int, UInt32, UInt64) in
                let o = offset - bufferStart
                return (Int(WriteAheadFormat.readBE32(p, o)), WriteAheadFormat.readBE32(p, o + 4), WriteAheadFormat.readBE64(p, o + 8))
            }
            guard length <= WriteAheadFormat.maxLineLength, try fill(at: offset, need: WriteAheadFormat.recordOverhead + length) else {
                damage = .truncatedRecord(offset: offset)
                break
            }
            let leaf: SHA256Digest
            if let knownLeaves, count < knownLeaves.count {
                leaf = knownLeaves[count]
            } else {
                leaf = buffer.withUnsafeBytes { p -> SHA256Digest in
                    let o = offset - bufferStart
                    return MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: p[(o + 16)..<(o + 16 + length)]), using: sha)
                }
            }
            guard leaf.withUnsafeBytes({ WriteAheadFormat.readBE32($0, 0) }) == check else {
                damage = .checksumMismatch(offset: offset, index: index)
                break
            }
            guard index == expected else { damage = .unexpectedIndex(offset: offset, expected: expected, found: index); break }
            try buffer.withUnsafeBytes { p in
                let o = offset - bufferStart + 16
                try body(index, UnsafeRawBufferPointer(rebasing: p[o..<(o + length)]), leaf)
            }
            offset += WriteAheadFormat.recordOverhead + length
            expected += 1
            count += 1
        }
        return Outcome(header: header, validLength: offset, recordCount: count, damage: damage)
    }
}

private func Glibc_read(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ n: Int) -> Int {
    read(fd, buf, n)
}
