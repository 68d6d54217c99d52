import AuditSealCore
import FoundationEssentials
import Logging
import ServiceLifecycle

/// Re-verifies the whole store on a schedule and exports the verdict, so that divergence raises an
/// alert (metric and error log) without anyone running `auditseal verify`.
struct VerificationService: Service {
    let store: AuditStore
    let dataDir: String
    let publicKey: Ed25519PublicKey
    let interval: Double
    let metrics: ReceiverMetrics
    let logger: Logger

    /// Follows the store's manifests (`AuditStore.sealedManifests()`): after a new one it reads the
    /// segments sealed since the last run, and the whole store once `interval` seconds have passed
    /// since the last full run (heartbeat manifests keep that going on an idle store). Runs are
    /// spaced by at least min(interval, 15) seconds (the one timer left: it bounds verification's
    /// share of the CPU while ingest seals a segment every few seconds); manifests sealed meanwhile
    /// are taken by the next run.
    func run() async throws {
        guard interval > 0 else {
            // Disabled: stay until shutdown (a service that returns early stops the group).
            try? await gracefulShutdown()
            return
        }
        let manifests = store.sealedManifests()
        await cancelWhenGracefulShutdown {
            var verifiedThrough = 0  // highest manifest sequence read so far
            var lastFull = Date.distantPast  // the first manifest (the newest at the start) brings a full run
            for await latest in manifests {
                guard !Task.isCancelled else { return }
                if Date().timeIntervalSince(lastFull) >= interval {
                    await runOffPool(from: 1)
                    lastFull = Date()
                } else if latest > verifiedThrough {
                    await runOffPool(from: verifiedThrough + 1)
                } else {
                    continue
                }
                verifiedThrough = latest
                try? await Task.sleep(for: .seconds(min(interval, 15)))  // spacing between runs, not a synchronization
            }
        }
    }

    /// Runs a verification on a thread of its own, not on the cooperative pool that ingest uses
    /// (a whole-store run takes seconds to minutes), and returns when it ends or when a stop
    /// begins: a stop never waits for a run, which only reads the store and is left to finish or
    /// to end with the process.
    func runOffPool(from: Int) async {
        let (finished, done) = AsyncStream<Void>.makeStream()
        Threads.start(name: "auditseal-verify") {
            runOnce(from: from)
            done.finish()
        }
        await cancelWhenGracefulShutdown {
            for await _ in finished {}
        }
    }

    /// Verifies the store, reading segments from sequence `from` on.
    func runOnce(from: Int) {
        var options = Verifier.Options(trustedKeys: [publicKey])
        options.segmentsFrom = from
        options.shippedElsewhere = ShippedSegments.hashes(dataDirectory: dataDir)
        let report = Verifier(source: DirectorySource(root: dataDir), options: options).run()
        metrics.verificationRuns.increment()
        metrics.lastVerificationIntact.set(to: report.intact ? 1 : 0)
        // For `auditseal status`: the last verdict, beside the store (not part of it).
        let record = LastVerification(at: Timestamp.format(Date()), fromSegment: from, intact: report.intact, treeSize: report.treeSize,
                                      errors: report.findings.filter { $0.severity == .error }.count, firstError: report.findings.first { $0.severity == .error }?.description)
        if let bytes = try? StableJSON.encode(record) {
            try? FileIO.makeDirectories(dataDir + "/verify")
            try? FileIO.writeAtomically(path: dataDir + "/verify/last.json", bytes: bytes + [0x0a])
        }
        if report.intact {
            logger.info("store verified", metadata: ["fromSegment": "\(from)", "events": "\(report.treeSize)", "manifests": "\(report.manifests)"])
        } else {
            metrics.verificationFailures.increment()
            for finding in report.findings where finding.severity == .error {
                logger.error("VERIFICATION FAILED: \(finding)")
            }
        }
    }
}
