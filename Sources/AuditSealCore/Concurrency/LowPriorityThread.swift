import FoundationEssentials
import Glibc
import Dispatch

/// A thread of its own at the lowest CPU priority (nice 19), for a follower's work that must never
/// take CPU from ingest (a forwarding sink's reading and encoding): while ingest saturates the
/// cores it gets what ingest leaves, and idle it runs at full speed. Jobs run one at a time, in
/// order. On Linux the nice value is per thread (setpriority with `who` 0 is the calling thread).
public final class LowPriorityThread: Sendable {
    private let state = Locked<(jobs: [@Sendable () -> Void], closed: Bool)>(([], false))
    private let wake = DispatchSemaphore(value: 0)

    public init(name: String) {
        Threads.start(name: name) { self.loop() }
    }

    private func loop() {
        Self.lowerCurrentThread()
        while true {
            wake.wait()
            let next = state.withLock { s -> (@Sendable () -> Void)? in s.jobs.isEmpty ? nil : s.jobs.removeFirst() }
            guard let job = next else { return }  // woken with nothing queued: closed
            job()
        }
    }

    /// Sets the calling thread's nice value to 19 (also for threads made elsewhere: the sinks' event loop).
    public static func lowerCurrentThread() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
    }

    /// Runs `body` on the calling thread under SCHED_IDLE: it then runs only on a CPU nothing else
    /// wants, and any other thread that wakes takes the CPU from it at once (nice 19 still costs
    /// ingest a wakeup-preemption delay; measured: the reconcile index cost saturated ingest 13.7 %
    /// at nice 19, within noise under SCHED_IDLE). For work that holds no lock another thread may
    /// wait for (parsing, hashing, reading files; not SQLite, logging or metrics): a holder starved
    /// by a busy machine would stall its waiter. The thread's policy is restored afterwards; where
    /// it could not be (an unprivileged thread at nice 19: see `canLeaveIdle`), `body` runs at the
    /// thread's own priority instead.
    public static func whileIdle<T>(_ body: () throws -> T) rethrows -> T {
        guard canLeaveIdle() else { return try body() }
        var param = sched_param(sched_priority: 0)
        let previous = sched_getscheduler(0)
        let idle: Int32 = 5  // SCHED_IDLE (linux/sched.h), not exported by Glibc's module
        let changed = previous >= 0 && sched_setscheduler(0, idle, &param) == 0
        defer { if changed { _ = sched_setscheduler(0, previous, &param) } }
        return try body()
    }

    /// Whether the calling thread could leave SCHED_IDLE again (sched(7), the kernel's `can_nice`):
    /// with CAP_SYS_NICE, or when RLIMIT_NICE covers its nice value (`20 - nice <= limit`). An
    /// unprivileged thread at nice 19 under the default limit (0) could not: it would stay idle for
    /// good, its SQLite work included (found running the tests as a non-root user, as the image does).
    public static func canLeaveIdle() -> Bool {
        errno = 0
        let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        var limit = rlimit()
        let niceLimit = __rlimit_resource_t(13)  // RLIMIT_NICE, not exported by Glibc's module
        if errno == 0, getrlimit(niceLimit, &limit) == 0,
           limit.rlim_cur == rlim_t.max || rlim_t(20 - Int(nice)) <= limit.rlim_cur {
            return true
        }
        return hasSysNice
    }

    /// CAP_SYS_NICE (bit 23) in the process's effective capabilities (/proc/self/status, CapEff).
    private static let hasSysNice: Bool = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let bits = UInt64(line.dropFirst("CapEff:".count).trimmed, radix: 16) else { return false }
        return bits & (1 << 23) != 0
    }()

    /// Runs `work` on the thread and returns its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = state.withLock { s -> Bool in
                guard !s.closed else { return false }
                s.jobs.append { continuation.resume(with: Result { try work() }) }
                return true
            }
            if accepted { wake.signal() } else { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Ends the thread once the queued jobs have run; later `run` calls throw CancellationError.
    public func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if first { wake.signal() }
    }
}
