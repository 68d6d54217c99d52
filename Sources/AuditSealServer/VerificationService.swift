import AuditSealCore
import Foundation
import Logging
import ServiceLifecycle

/// Re-verifies the whole store on a schedule and exports the verdict, so that divergence raises an
/// alert (metric and error log) without anyone running `auditseal verify`.
struct VerificationService: Service {
    let dataDir: String
    let publicKey: Ed25519PublicKey
    let interval: Double
    let metrics: Metrics
    let logger: Logger

    func run() async throws {
        guard interval > 0 else {
            // Disabled: stay until shutdown (a service that returns early stops the group).
            try? await gracefulShutdown()
            return
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
            } catch {
                return
            }
            guard !Task.isShuttingDownGracefully else { return }
            runOnce()
        }
    }

    func runOnce() {
        let report = Verifier(source: DirectorySource(root: dataDir), options: .init(trustedKeys: [publicKey])).run()
        // Open segments are being written while we read: a torn tail is expected, not an alarm.
        metrics.increment("auditseal_verification_runs_total")
        metrics.set("auditseal_last_verification_intact", report.intact ? 1 : 0)
        if report.intact {
            logger.info("store verified", metadata: ["events": "\(report.treeSize)", "manifests": "\(report.manifests)"])
        } else {
            metrics.increment("auditseal_verification_failures_total")
            for finding in report.findings where finding.severity == .error {
                logger.error("VERIFICATION FAILED: \(finding)")
            }
        }
    }
}
