import Glibc

/// Threads of the project's own (the committer, the sealer, low-priority followers): a detached
/// pthread named as `top` and `/proc/PID/task/*/comm` show it (at most 15 bytes).
public enum Threads {
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, runThreadStart, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        pthread_detach(thread)
    }

    /// Names the calling thread (cut to the kernel's 15 bytes) through `/proc/thread-self/comm`, as
    /// `pthread_setname_np` does (which Glibc's Swift module does not declare); a name is only for
    /// people, so a /proc that refuses it changes nothing else.
    public static func setCurrentName(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

private final class ThreadStart: Sendable {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) { self.name = name; self.body = body }
}

private func runThreadStart(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
    Threads.setCurrentName(start.name)
    start.body()
    return nil
}
