@testable import AuditSealCore
import Foundation
import Testing

struct LowPriorityThreadTests {
    @Test func jobsRunInOrderAtNiceNineteenAndACloseEndsIt() async throws {
        let thread = LowPriorityThread(name: "test-low")
        // On Linux the nice value is per thread: the job sees its own, the caller keeps its.
        let caller = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        #expect(try await thread.run { getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) } == 19)
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == caller)
        // The kernel's name for the thread (what top and perf show).
        let name = try await thread.run { (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "" }
        #expect(name == "test-low\n")
        var results = [Int]()
        for i in 0..<5 { results.append(try await thread.run { i * i }) }
        #expect(results == [0, 1, 4, 9, 16])
        struct Failed: Error {}
        await #expect(throws: Failed.self) { try await thread.run { throw Failed() } }
        thread.close()
        await #expect(throws: CancellationError.self) { try await thread.run { 1 } }
    }

    @Test func idleSectionsRunUnderSchedIdleAndRestoreThePolicy() async throws {
        let thread = LowPriorityThread(name: "test-idle")
        defer { thread.close() }
        let (policies, canLeave) = try await thread.run { () -> ([Int32], Bool) in
            let before = sched_getscheduler(0)
            let inside = LowPriorityThread.whileIdle { sched_getscheduler(0) }
            return ([before, inside, sched_getscheduler(0)], LowPriorityThread.canLeaveIdle())
        }
        // SCHED_OTHER, SCHED_IDLE, SCHED_OTHER again; where the thread could not come back
        // (unprivileged at nice 19), it never leaves SCHED_OTHER.
        #expect(policies == (canLeave ? [0, 5, 0] : [0, 0, 0]))
        // Root (the CI) can always come back; a user without CAP_SYS_NICE and RLIMIT_NICE cannot.
        if geteuid() == 0 { #expect(canLeave) }
    }
}
