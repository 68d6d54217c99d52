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
///     "ASWAL003" | u32be headerLength | u32be crc32(header) | header JSON
///     then per event: u32be lineLength | first 4 bytes of leafHash(line) | u64be index | line
///
/// Bit 31 of the length word marks a backfilled record (an event reconciliation took from the API
/// server's log file, not from the webhook); lines are shorter than 2^30 bytes, so the bit is free.
///
/// The record's check value is the start of the event's RFC 6962 leaf hash, which the committer
/// computes anyway and every reader recomputes to rebuild the chain: one SHA-256 pass serves both.
/// In a backfilled record every bit of it is inverted, so that the mark is checked too (in
/// "ASWAL002" files, still read, the mark lay outside every check value).
public enum WriteAheadFormat {
    static let magic = Array("ASWAL003".utf8)
    /// The previous version, read as before: its check value never covers the backfill mark.
    static let uncheckedMarkMagic = Array("ASWAL002".utf8)
    static let recordOverhead = 16
    /// Largest line a record may hold (the API server has no cap; 1 GiB bodies are the limit).
    static let maxLineLength = 1 << 30
    /// The length word's bit that marks a backfilled record.
    static let backfilledBit: UInt32 = 1 << 31

    /// A record's check value: the leaf hash's first four bytes, every bit inverted when backfilled.
    @inline(__always)
    static func checkValue(leaf: SHA256Digest, backfilled: Bool) -> UInt32 {
        leaf.withUnsafeBytes { readBE32($0, 0) } ^ (backfilled ? 0xFFFF_FFFF : 0)
    }

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

    /// Appends the 16-byte header of a record whose line is written separately.
    @inline(__always)
    static func appendRecordHeader(index: UInt64, length: Int, leaf: SHA256Digest, backfilled: Bool = false, to out: inout [UInt8]) {
        var be = index.bigEndian
        appendBE32(UInt32(length) | (backfilled ? backfilledBit : 0), to: &out)
        appendBE32(checkValue(leaf: leaf, backfilled: backfilled), to: &out)
        withUnsafeBytes(of: &be) { out.append(contentsOf: $0) }
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
        /// Index ranges of the valid records marked as backfilled, in order.
        public var backfilled = BackfilledRanges()
    }

    public let path: String

    public init(path: String) { self.path = path }

    /// Reads every valid record, calling body(index, line, leaf hash) for each; stops at the first
    /// damaged record.
    /// With `knownLeaves` (the committer's hashes of these very records), each record is matched
    /// against its known leaf by check value instead of being hashed again. `mapped` maps the file
    /// instead of reading it: only for segments nobody writes to any more (a file that shrank under
    /// a mapping would fault).
    /// With `recordLimit`, reading stops after that many records (the rest of the file is an
    /// abandoned tail: see `AuditStore`, a failed write). `resumeAt` continues a reading that
    /// ended at (`validLength`, next index) of an earlier outcome of the same file (not mapped):
    /// only the records after it are read and counted.
    public func read(knownLeaves: [SHA256Digest]? = nil, mapped: Bool = false, recordLimit: Int? = nil,
                     resumeAt: (offset: Int, index: UInt64)? = nil,
                     _ body: (UInt64, UnsafeRawBufferPointer, SHA256Digest) throws -> Void) throws -> Outcome {
        let sha = SHA256()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        defer { close(fd) }
        let window = try mapped ? FileWindow(mapping: fd, path: path) : FileWindow(reading: fd, path: path)

        guard try window.fill(at: 0, need: 16) else {
            throw AuditSealError.storage("\(path) is not a write-ahead segment (bad or missing header)")
        }
        let magic = Array(window.bytes(at: 0, count: 8))
        guard magic == WriteAheadFormat.magic || magic == WriteAheadFormat.uncheckedMarkMagic else {
            throw AuditSealError.storage("\(path) is not a write-ahead segment (bad or missing header)")
        }
        let markChecked = magic == WriteAheadFormat.magic
        let start = window.bytes(at: 0, count: 16)
        let (headerLength, headerCRC) = (Int(WriteAheadFormat.readBE32(start, 8)), WriteAheadFormat.readBE32(start, 12))
        guard headerLength < 1 << 20, try window.fill(at: 16, need: headerLength) else {
            throw AuditSealError.storage("\(path) has a truncated header")
        }
        let headerBytes = Array(window.bytes(at: 16, count: headerLength))
        guard headerBytes.withUnsafeBytes({ CRC32.checksum($0) }) == headerCRC else {
            throw AuditSealError.storage("\(path) has a corrupt header (checksum mismatch)")
        }
        let header = try StableJSON.decode(WriteAheadHeader.self, from: headerBytes)
        // A CRC is no defence against a crafted file: a first index near 2^64 made the next-index
        // arithmetic (here, in recovery and in verify) overflow and trap. Manifests have the same bound.
        guard header.firstIndex <= Manifest.maximumTreeSize else {
            throw AuditSealError.storage("\(path) has a header whose firstIndex \(header.firstIndex) is beyond any real chain (at most \(Manifest.maximumTreeSize))")
        }
        var offset = 16 + headerLength
        var expected = header.firstIndex
        if let resumeAt, !mapped, resumeAt.offset > offset, resumeAt.index > expected {
            try window.seek(to: resumeAt.offset)
            offset = resumeAt.offset
            expected = resumeAt.index
        }
        var count = 0
        var damage: WriteAheadDamage?
        var backfilled = BackfilledRanges()
        while count < recordLimit ?? .max {
            guard try window.fill(at: offset, need: WriteAheadFormat.recordOverhead) else {
                if window.available(at: offset) > 0 { damage = .truncatedRecord(offset: offset) }
                break
            }
            let head = window.bytes(at: offset, count: WriteAheadFormat.recordOverhead)
            let word = WriteAheadFormat.readBE32(head, 0)
            let (length, check, index) = (Int(word & ~WriteAheadFormat.backfilledBit), WriteAheadFormat.readBE32(head, 4), WriteAheadFormat.readBE64(head, 8))
            guard length <= WriteAheadFormat.maxLineLength, try window.fill(at: offset, need: WriteAheadFormat.recordOverhead + length) else {
                damage = .truncatedRecord(offset: offset)
                break
            }
            let line = window.bytes(at: offset + WriteAheadFormat.recordOverhead, count: length)
            let leaf: SHA256Digest
            if let knownLeaves, count < knownLeaves.count {
                leaf = knownLeaves[count]
            } else {
                leaf = MerkleHash.leaf(line, using: sha)
            }
            let marked = word & WriteAheadFormat.backfilledBit != 0
            guard WriteAheadFormat.checkValue(leaf: leaf, backfilled: marked && markChecked) == check else {
                damage = .checksumMismatch(offset: offset, index: index)
                break
            }
            guard index == expected else { damage = .unexpectedIndex(offset: offset, expected: expected, found: index); break }
            try body(index, line, leaf)
            if marked { backfilled.add(index) }
            offset += WriteAheadFormat.recordOverhead + length
            expected += 1
            count += 1
        }
        return Outcome(header: header, validLength: offset, recordCount: count, damage: damage, backfilled: backfilled)
    }
}

/// A forward-moving view of a file's bytes: either the whole file mapped, or a buffer refilled by
/// read(2) that keeps only what is still needed. Pointers it hands out stay valid until the next fill.
final class FileWindow {
    private let fd: Int32
    private let path: String
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0     // file offset of base[0]
    private var filled = 0    // bytes valid from base
    private var eof = false
    private let mappedLength: Int?

    /// Maps the whole file.
    init(mapping fd: Int32, path: String) throws {
        self.fd = fd
        self.path = path
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw AuditSealError.io("cannot stat \(path)", errno: errno) }
        let size = Int(st.st_size)
        if size == 0 {
            base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
            mappedLength = nil
            capacity = 1
            eof = true
            return
        }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw AuditSealError.io("cannot map \(path)", errno: errno)
        }
        _ = madvise(map, size, MADV_SEQUENTIAL)
        base = map
        capacity = size
        filled = size
        eof = true
        mappedLength = size
    }

    /// Reads the file in 1 MiB steps.
    init(reading fd: Int32, path: String) throws {
        self.fd = fd
        self.path = path
        capacity = 2 << 20
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        mappedLength = nil
    }

    deinit {
        if let mappedLength { munmap(base, mappedLength) } else { base.deallocate() }
    }

    /// Bytes available from file offset `at` without reading more.
    func available(at: Int) -> Int { filled - (at - start) }

    /// Ensures `need` bytes from file offset `at` are present; false when the file ends first.
    func fill(at: Int, need: Int) throws -> Bool {
        if mappedLength != nil { releaseMappedPages(before: at) }
        if available(at: at) >= need { return true }
        if mappedLength != nil || (eof && filled - (at - start) < need) { return false }
        // Keep only what is still needed, at the front; grow for a record larger than the buffer.
        let keep = filled - (at - start)
        if at - start > 0 && keep > 0 { memmove(base, base + (at - start), keep) }
        filled = max(0, keep)
        start = at
        if need > capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: need + (1 << 20), alignment: 16)
            bigger.copyMemory(from: base, byteCount: filled)
            base.deallocate()
            base = bigger
            capacity = need + (1 << 20)
        }
        while filled < need {
            let n = read(fd, base + filled, capacity - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditSealError.io("cannot read \(path)", errno: errno)
            }
            if n == 0 { eof = true; return false }
            filled += n
        }
        return true
    }

    /// Moves a read(2) window to a later file offset, dropping what it held.
    func seek(to offset: Int) throws {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw AuditSealError.io("cannot seek \(path)", errno: errno) }
        start = offset
        filled = 0
        eof = false
    }

    /// Drops the mapped pages already read from this process's resident set (they stay in the page
    /// cache), so that sealing a 64 MB segment does not add 64 MB to the receiver's RSS.
    private var released = 0
    private func releaseMappedPages(before offset: Int) {
        let page = 1 << 16
        let end = offset / page * page
        guard end - released >= 8 << 20 else { return }
        _ = madvise(base + released, end - released, MADV_DONTNEED)
        released = end
    }

    /// The bytes [at, at + count), which must have been filled.
    func bytes(at: Int, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + (at - start), count: count)
    }
}


