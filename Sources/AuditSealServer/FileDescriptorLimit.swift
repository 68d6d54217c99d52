import FoundationEssentials
import Glibc

/// Each connection is a file descriptor, and the store needs its own beside them (segments, spool
/// files, the index). A service manager's soft limit is often 1024, so the receiver raises its soft
/// limit towards the hard one at start, as Go programs do, and says so when even the hard limit is
/// short of what `maxConnections` needs.
enum FileDescriptorLimit {
    /// Descriptors kept for everything but connections.
    static let reserve = 512

    /// Raises the soft RLIMIT_NOFILE to cover `connections` plus the reserve, within the hard limit.
    /// Returns a warning when the hard limit is too low.
    static func raise(for connections: Int) -> String? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let wanted = rlim_t(connections + reserve)
        guard limit.rlim_cur < wanted else { return nil }
        let before = limit.rlim_cur
        limit.rlim_cur = min(wanted, limit.rlim_max)
        guard setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return "cannot raise the open-file limit from \(before): \(String(cString: strerror(errno)))"
        }
        guard limit.rlim_cur >= wanted else {
            return "open-file limit \(limit.rlim_cur) (hard) is below maxConnections + \(reserve) = \(wanted): new connections will be refused once it is reached; raise LimitNOFILE / ulimit -Hn"
        }
        return nil
    }
}
