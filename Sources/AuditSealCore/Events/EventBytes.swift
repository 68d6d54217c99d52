import FoundationEssentials
import Glibc

/// The bytes behind an `EventBatch` (its input or its stored lines): an array on the heap, or a
/// read-only map of a spool file (see `SpoolFile`), so that a large request body is paged from
/// disk instead of being held in anonymous memory.
public struct EventBytes: Sendable {
    private enum Storage: Sendable {
        case array([UInt8])
        case mapped(FileMapping)
    }
    private let storage: Storage

    /// Bytes held in an array.
    public init(_ bytes: [UInt8]) { storage = .array(bytes) }

    init(mapping: FileMapping) { storage = .mapped(mapping) }

    /// Whether the bytes are a map of a spool file.
    public var isMapped: Bool { if case .mapped = storage { true } else { false } }

    public var count: Int {
        switch storage {
        case .array(let a): a.count
        case .mapped(let m): m.count
        }
    }

    /// Calls body with the bytes, which stay put for the call.
    @inline(__always)
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .array(let a): try a.withUnsafeBytes(body)
        case .mapped(let m): try body(m.bytes)
        }
    }

    /// Drops mapped pages before `offset` from the process's resident set, in steps of 8 MiB; they
    /// stay in the page cache and are read back if touched again. Meant for front-to-back passes;
    /// an offset below the last one starts a new pass. Nothing for an array.
    @inline(__always)
    public func releasePages(before offset: Int) {
        if case .mapped(let m) = storage { m.release(before: offset) }
    }

    /// A copy of the bytes in `range`.
    public subscript(range: Range<Int>) -> [UInt8] {
        withUnsafeBytes { Array($0[range]) }
    }
}

/// A read-only shared map of a whole file, unmapped when the last reference goes.
final class FileMapping: @unchecked Sendable {  // a read-only mapping: the pointer and length never change, the pages are never written
    let base: UnsafeRawPointer
    let count: Int

    /// Maps `count` bytes of the open file `fd` (which may be closed afterwards).
    init(fd: Int32, count: Int, path: String) throws {
        guard count > 0 else {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16))
            self.count = 0
            return
        }
        guard let map = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw AuditSealError.io("cannot map \(path)", errno: errno)
        }
        _ = madvise(map, count, MADV_SEQUENTIAL)
        base = UnsafeRawPointer(map)
        self.count = count
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    private let released = Locked(0)

    func release(before offset: Int) {
        let step = 8 << 20
        let end = min(offset, count) / step * step
        released.withLock { released in
            if end < released { released = 0 }  // a new pass from the start (scan, then build lines)
            guard end > released else { return }
            _ = madvise(UnsafeMutableRawPointer(mutating: base) + released, end - released, MADV_DONTNEED)
            released = end
        }
    }

    deinit {
        if count > 0 { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }
}
