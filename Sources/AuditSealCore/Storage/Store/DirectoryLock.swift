import FoundationEssentials
import Glibc

/// A data directory's exclusive lock (`DATA_DIR/LOCK`, flock): one process opens a store at a
/// time. Held from `init` until `release()` (or the lock's end): the store releases it once its
/// last manifest is written, so that another process may open the directory as it exits.
final class DirectoryLock: Sendable {
    private let fd: Int32

    /// Takes the lock; throws `directoryInUse` when another process holds it. A copy of a descriptor
    /// this process just closed may live on for a moment in a child being spawned (fork before exec
    /// keeps the lock): a refusal is tried again for up to 200 ms before it counts.
    init(layout: StoreLayout) throws {
        fd = open(layout.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(layout.lockFile)", errno: errno) }
        for attempt in 0..<20 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
            guard errno == EWOULDBLOCK, attempt < 19 else { break }
            usleep(10_000)
        }
        close(fd)
        throw AuditSealError(.directoryInUse, "\(layout.root) is in use by another auditseal process (lock \(layout.lockFile))")
    }

    /// Lets another process take the directory (the descriptor stays open until the lock ends).
    func release() { _ = flock(fd, LOCK_UN) }

    deinit { close(fd) }
}
