import ArgumentParser
import AuditSealCore
import AuditSealRedaction
import AuditSealReconcile
import FoundationEssentials
import Logging

/// `auditseal reconcile`: backfills from the API server's log files what the webhook never delivered.
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Backfill from the API server's audit log files (--audit-log-path) every event the chain lacks, and report copies that differ.",
        discussion: """
            Each event of the log files that the chain lacks (same auditID and stage) is appended, marked as \
            backfilled in its segment's manifest; events in both are compared line for line and differences \
            reported, never changed. Rotated (and gzip-compressed) files beside each path are read too, and \
            each file's read position is kept in DATA_DIR/reconcile/index.sqlite, so running it again reads \
            only what is new. While `auditseal serve` runs, give it `reconcile.auditLogPaths` instead: the \
            data directory has one writer. Exit status: 0, or 1 when copies differ.
            """)

    @OptionGroup var store: StoreOptions

    @OptionGroup(title: "Redaction (on by default, as in serve): backfilled events pass through the same rules") var redaction: RedactionOptions

    @Option(name: .customLong("audit-log"), help: "The API server's --audit-log-path (repeat for several); rotated files beside it are found.")
    var auditLogs: [String] = []

    @Option(help: "Reconcile only events at least this many seconds old (the webhook may still deliver younger ones).")
    var settleSeconds: Double = 0

    @Option(help: "Reconcile events up to this many hours old; the index keeps (auditID, stage) that long.")
    var horizonHours: Double = 168

    @Flag(help: "Print the completeness report as JSON.")
    var json = false

    func validate() throws {
        guard !auditLogs.isEmpty else { throw ValidationError("give at least one --audit-log") }
        guard settleSeconds >= 0, horizonHours > 0 else { throw ValidationError("--settle-seconds must be ≥ 0 and --horizon-hours > 0") }
    }

    func run() async throws {
        let auditStore = try store.openStore()
        let database = try ReconcileDatabase(dataDirectory: store.dataDir)
        let stage = try redaction.stage(dataDirectory: store.dataDir, logger: Logger(label: "auditseal-reconcile"))
        let backfiller = Backfiller(settings: .init(logPaths: auditLogs, settleSeconds: settleSeconds, horizonSeconds: horizonHours * 3600),
                                    database: database, dataDirectory: store.dataDir, logger: Logger(label: "auditseal-reconcile"),
                                    append: { try await auditStore.append(try await stage?.prepare($0) ?? $0) })
        if let stage { backfiller.redactionChanges = { stage.changes($0) } }
        let result: Backfiller.PassResult
        do {
            result = try await backfiller.pass()
            try await auditStore.close()
        } catch {
            try? await auditStore.close()
            throw error
        }
        let report = try database.report()
        try database.writeReport(dataDirectory: store.dataDir)
        if json {
            print(String(decoding: try StableJSON.encode(report), as: UTF8.self))
        } else {
            print("read \(result.read) log events: \(result.matched) already stored, \(result.backfilled) backfilled, \(result.mismatched) differ from the stored copy, \(result.beyondHorizon) beyond the horizon, \(result.unreadable) unreadable lines (indexed \(result.indexed) chain events)")
            for line in report.summaryLines { print(line) }
            for m in report.mismatches.suffix(20) { print("DIFFERS: event \(m.eventIndex) auditID \(m.auditID) stage \(m.stage) vs \(m.file):\(m.line)") }
        }
        if result.mismatched > 0 { throw ExitCode(1) }
    }
}
