#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// The open write-ahead segment: an append-only file whose durable length is known.
final class ActiveSegment {
    let path: String
    let fd: Int32
    let firstIndex: UInt64
    /// Length that is on stable storage (everything up to here was fsync'd).
    private(set) var durableLength: Int
    private(set) var eventCount: Int
    let openedAt: Date
    /// A write or fsync failed: what the kernel kept of this file is unknown (after a failed fsync
    /// it may have dropped dirty pages and a retried fsync would report success). Nothing more is
    /// written or synced here; the store continues in a new file.
    private(set) var failed = false

    private init(path: String, fd: Int32, firstIndex: UInt64, length: Int, eventCount: Int, openedAt: Date) {
        self.path = path
        self.fd = fd
        self.firstIndex = firstIndex
        self.durableLength = length
        self.eventCount = eventCount
        self.openedAt = openedAt
    }

    deinit { close(fd) }

    /// Creates a new segment whose first event follows `state`; the header is durable on return.
    /// `prepared` is an empty file already created and opened at `preparedPath` (the segment
    /// pipeline's spare); without one the file is created here.
    static func create(layout: StoreLayout, state: ChainState, chainID: String, prepared: (fd: Int32, path: String)? = nil) throws -> ActiveSegment {
        let path = layout.walPath(firstIndex: state.nextIndex)
        let header = WriteAheadHeader(chainID: chainID, firstIndex: state.nextIndex, chainHashBefore: state.head.hex,
                                      treeFrontier: state.tree.hashes.map(\.hex), createdAt: Timestamp.format(Date()))
        let bytes = try WriteAheadFormat.encodeHeader(header)
        // Written under a temporary name and renamed: a crash never leaves a segment without its header.
        let temp = prepared?.path ?? path + ".tmp"
        let fd = prepared?.fd ?? open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AuditSealError.io("cannot create \(temp)", errno: errno) }
        var renamed = false
        do {
            try bytes.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: temp) }
            try FileIO.sync(fd: fd, path: temp)
            guard rename(temp, path) == 0 else { throw AuditSealError.io("cannot rename \(temp) to \(path)", errno: errno) }
            renamed = true
            try FileIO.syncDirectory(layout.walDirectory)
        } catch {
            close(fd)
            // Not a segment after all: appends go on in the current one (recovery also removes
            // an empty last segment that starts inside its predecessor).
            _ = unlink(renamed ? path : temp)
            throw error
        }
        return ActiveSegment(path: path, fd: fd, firstIndex: state.nextIndex, length: bytes.count, eventCount: 0, openedAt: Date())
    }

    /// Reopens a recovered segment for appending at `validLength` (already truncated to it).
    static func reopen(path: String, firstIndex: UInt64, validLength: Int, eventCount: Int) throws -> ActiveSegment {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        guard lseek(fd, off_t(validLength), SEEK_SET) >= 0 else {
            close(fd)
            throw AuditSealError.io("cannot seek \(path)", errno: errno)
        }
        return ActiveSegment(path: path, fd: fd, firstIndex: firstIndex, length: validLength, eventCount: eventCount, openedAt: Date())
    }

    /// Writes records and fsyncs them: record i is `headers[16i..<16i+16]` followed by its line,
    /// taken in place from `lines[pieces[i].batch]` (gathered by writev, not copied). On failure the
    /// file is marked failed: its first `eventCount` records (fsync'd before) stay valid, and
    /// whatever follows them is an unacknowledged tail that readers ignore.
    func appendDurably(headers: [UInt8], lines: [EventBytes], pieces: [RecordPiece]) throws {
        precondition(headers.count == pieces.count * WriteAheadFormat.recordOverhead, "one header per record")
        guard !failed else { throw AuditSealError.storage("\(path) had a failed write and takes no more") }
        do {
            let written = try headers.withUnsafeBytes { head in
                try Self.withBaseAddresses(of: lines) { bases in
                    var vectors = [iovec]()
                    vectors.reserveCapacity(pieces.count * 2)
                    for (i, piece) in pieces.enumerated() {
                        vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress! + i * WriteAheadFormat.recordOverhead),
                                             iov_len: WriteAheadFormat.recordOverhead))
                        vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bases[piece.batch] + piece.line.lowerBound),
                                             iov_len: piece.line.count))
                    }
                    // Mapped (spooled) lines leave the resident set as they are written.
                    return try writeAll(vectors) { written in
                        // Vector 2k is record k's header, 2k+1 its line.
                        let piece = pieces[(written - 1) / 2]
                        lines[piece.batch].releasePages(before: written % 2 == 0 ? piece.line.upperBound : piece.line.lowerBound)
                    }
                }
            }
            try FileIO.sync(fd: fd, path: path)
            durableLength += written
            eventCount += pieces.count
        } catch {
            rollBack()
            throw error
        }
    }

    /// writev until every vector is written (short writes resume where they stopped).
    private func writeAll(_ vectors: [iovec], afterEach: (_ vectorsWritten: Int) -> Void) throws -> Int {
        var vectors = vectors
        var total = 0
        var first = 0
        while first < vectors.count {
            // At most IOV_MAX (1024) vectors and, beyond the first, 32 MiB per call, so that
            // afterEach sees progress through a large batch.
            var count = 1
            var bytes = vectors[first].iov_len
            while count < 1024 && first + count < vectors.count && bytes + vectors[first + count].iov_len <= 32 << 20 {
                bytes += vectors[first + count].iov_len
                count += 1
            }
            let n = vectors.withUnsafeBufferPointer { writev(fd, $0.baseAddress! + first, Int32(count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AuditSealError.io("cannot write \(path)", errno: errno)
            }
            total += n
            var left = n
            while left > 0 && first < vectors.count {
                if left >= vectors[first].iov_len {
                    left -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base = vectors[first].iov_base! + left
                    vectors[first].iov_len -= left
                    left = 0
                }
            }
            while first < vectors.count && vectors[first].iov_len == 0 { first += 1 }
            if first > 0 { afterEach(first) }
        }
        return total
    }

    /// Calls body with the base address of every array, all pinned for the call's duration.
    private static func withBaseAddresses<R>(of arrays: [EventBytes], _ body: ([UnsafeRawPointer]) throws -> R) throws -> R {
        var bases = [UnsafeRawPointer]()
        bases.reserveCapacity(arrays.count)
        func pin(_ i: Int) throws -> R {
            if i == arrays.count { return try body(bases) }
            return try arrays[i].withUnsafeBytes { raw in
                bases.append(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                return try pin(i + 1)
            }
        }
        return try pin(0)
    }

    /// Takes no more appends (the file is being sealed as it is).
    func stopAppends() { failed = true }

    /// After a failed write or fsync: cut what this process wrote past the durable length (best
    /// effort, so that readers of the page cache see the valid records only) and never sync the
    /// file again (docs/FORMAT.md §4).
    private func rollBack() {
        failed = true
        _ = ftruncate(fd, off_t(durableLength))
    }
}

/// One record's line: a range of the stored-lines buffer of batch `batch` in a commit group.
struct RecordPiece {
    var batch: Int
    var line: Range<Int>
}
