#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The open write-ahead segment: an append-only file whose durable length is known.
final class ActiveSegment {
    let path: String
    let fd: Int32
    let firstIndex: UInt64
    /// Length that is on stable storage (everything up to here was fsync'd).
    private(set) var durableLength: Int
    private(set) var eventCount: Int
    let openedAt: Date

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
    static func create(layout: StoreLayout, state: ChainState, chainID: String) throws -> ActiveSegment {
        let path = layout.walPath(firstIndex: state.nextIndex)
        let header = WriteAheadHeader(chainID: chainID, firstIndex: state.nextIndex, chainHashBefore: state.head.hex,
                                      treeFrontier: state.tree.hashes.map(\.hex), createdAt: Timestamp.format(Date()))
        let bytes = try WriteAheadFormat.encodeHeader(header)
        // Written under a temporary name and renamed: a crash never leaves a segment without its header.
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AuditSealError.io("cannot create \(temp)", errno: errno) }
        do {
            try bytes.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: temp) }
            try FileIO.sync(fd: fd, path: temp)
            try FileIO.rename(from: temp, to: path)
        } catch {
            close(fd)
            _ = unlink(temp)
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

    /// Writes records and fsyncs them. On failure the file is cut back to its durable length, so
    /// that nothing half-written stays behind a later successful append.
    func appendDurably(_ records: [UInt8], events: Int) throws {
        do {
            try records.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: path) }
            try FileIO.sync(fd: fd, path: path)
            durableLength += records.count
            eventCount += events
        } catch {
            rollBack()
            throw error
        }
    }

    private func rollBack() {
        _ = ftruncate(fd, off_t(durableLength))
        _ = lseek(fd, off_t(durableLength), SEEK_SET)
        _ = fdatasync(fd)
    }
}
