#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import Dispatch

/// Prepares the next write-ahead file before it is needed, as etcd's `file_pipeline.go` does: a
/// spare (`wal/next.wal.tmp`, created and opened, empty) waits on a queue of its own, so that a
/// cut only writes the new segment's header into it, syncs it and renames it; the spare for the
/// cut after is made at once, off the committer's path. A spare left by a crash is a `.wal.tmp`
/// that recovery removes (docs/FORMAT.md §4). Used by the committer alone.
final class SegmentPipeline: Sendable {
    static let spareName = "next.wal.tmp"

    private let layout: StoreLayout
    private let sparePath: String
    /// The spare's descriptor, once made (nil while none is: the cut then creates its file itself).
    private let spare = Locked<Int32?>(nil)
    private let queue = DispatchQueue(label: "auditseal-wal-pipeline")

    init(layout: StoreLayout) {
        self.layout = layout
        sparePath = layout.walDirectory + "/" + Self.spareName
        prepare()
    }

    /// Opens the segment whose first event follows `state`, in the spare when one is ready (a
    /// preparation still running is waited for), and starts preparing the next spare.
    func next(state: ChainState, chainID: String) throws -> ActiveSegment {
        let fd = queue.sync { spare.withLock { s -> Int32? in defer { s = nil }; return s } }
        defer { prepare() }
        return try ActiveSegment.create(layout: layout, state: state, chainID: chainID, prepared: fd.map { ($0, sparePath) })
    }

    /// Whether a spare is ready (once any preparation queued before has run).
    var hasSpare: Bool { queue.sync { spare.withLock { $0 != nil } } }

    /// Removes the spare (a clean stop leaves none).
    func removeSpare() {
        queue.sync {
            guard let fd = spare.withLock({ s -> Int32? in defer { s = nil }; return s }) else { return }
            close(fd)
            _ = unlink(sparePath)
        }
    }

    private func prepare() {
        queue.async { [self] in
            guard spare.withLock({ $0 == nil }) else { return }
            // A failure (a full disk) leaves no spare: the cut creates its file itself and reports it.
            let fd = open(sparePath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            guard fd >= 0 else { return }
            spare.withLock { $0 = fd }
        }
    }
}
