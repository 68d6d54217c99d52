import AuditSealCore
import FoundationEssentials
import Logging
import Metrics
import ServiceLifecycle

/// Runs reconciliation passes beside the receiver (`reconcile.auditLogPaths` in serve's config).
public final class ReconcileService: Service, Sendable {
    let backfiller: Backfiller
    let interval: Double
    let logger: Logger
    /// The store's durable size after each commit (`AuditStore.committedSizes`): the index follows
    /// it between passes, so that a pass finds it at the head instead of indexing a pass's worth.
    let commits: AsyncStream<UInt64>?

    public init(backfiller: Backfiller, interval: Double, commits: AsyncStream<UInt64>? = nil, logger: Logger) {
        self.backfiller = backfiller
        self.interval = interval
        self.commits = commits
        self.logger = logger
        let read = Counter(label: "auditseal_reconcile_log_events_total")
        let backfilled = Counter(label: "auditseal_backfilled_events_total")
        let mismatched = Counter(label: "auditseal_copy_mismatches_total")
        let unreadable = Counter(label: "auditseal_reconcile_unreadable_lines_total")
        backfiller.observe = { r in
            if r.backfilled > 0 { Self.announce("reconcile-chunk backfilled=\(r.backfilled)") }
            read.increment(by: Int64(r.read))
            backfilled.increment(by: Int64(r.backfilled))
            mismatched.increment(by: Int64(r.mismatched))
            unreadable.increment(by: Int64(r.unreadable))
        }
    }

    public func run() async throws {
        let passes = Counter(label: "auditseal_reconcile_passes_total")
        let failures = Counter(label: "auditseal_reconcile_failures_total")
        let indexed = Gauge(label: "auditseal_reconcile_indexed_events")
        // A stop cancels the pass between chunks (each chunk's position is saved with its
        // appends, so the next start resumes there) and the sleep: never a wait of an interval.
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.passes(passes, failures, indexed) }
                if let commits = self.commits { group.addTask { await self.follow(commits) } }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Indexes what each commit made durable (on the indexer's nice-19 thread), at most one
    /// catch-up a second: each is one SQLite transaction, and fewer, larger ones cost less per event.
    private func follow(_ commits: AsyncStream<UInt64>) async {
        for await _ in commits {
            let started = ContinuousClock.now
            do { try await backfiller.catchUpIndex() } catch is CancellationError { return } catch {
                logger.error("reconcile index: \(error)")
            }
            try? await Task.sleep(until: started + .seconds(1))  // pacing, not a synchronization
        }
    }

    private func passes(_ passes: Counter, _ failures: Counter, _ indexed: Gauge) async {
        while !Task.isCancelled {
            do {
                let r = try await backfiller.pass()
                passes.increment()
                indexed.record(Double(try backfiller.database.report().indexedThrough))
                if r.backfilled > 0 || r.mismatched > 0 {
                    logger.notice("reconcile pass: \(r.read) log events read, \(r.backfilled) backfilled, \(r.mismatched) differ")
                }
                Self.announce("reconcile-pass read=\(r.read) backfilled=\(r.backfilled) mismatched=\(r.mismatched)")
            } catch is CancellationError {
                return
            } catch {
                failures.increment()
                logger.error("reconcile pass failed: \(error)")
            }
            try? await Task.sleep(for: .seconds(interval))  // the pass interval, not a synchronization
        }
    }

    /// Progress on stdout for scripts and tests (like the receiver's "listening" line).
    static func announce(_ line: String) {
        Console.standardOutput.write(Data("auditseal: \(line)\n".utf8))
    }
}
