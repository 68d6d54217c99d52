import Foundation

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

    /// A copy of the bytes in `range`.
    public subscript(range: Range<Int>) -> [UInt8] {
        withUnsafeBytes { Array($0[range]) }
    }
}

/// A read-only shared map of a whole file, unmapped when the last reference goes.
final class FileMapping: @unchecked Sendable {
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

    deinit {
        if count > 0 { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }
}
