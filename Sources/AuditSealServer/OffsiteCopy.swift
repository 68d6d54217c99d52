import AuditSealCore
import Logging
import ServiceLifecycle

/// An offsite copy of what the store seals (shipping to a write-once bucket), as the receiver sees
/// it: a service that runs beside ingest, a readiness condition, its metrics, and a bounded final
/// round after the closing seal. `serve` (the executable) makes one from AuditSealShipping; this
/// module knows no bucket.
public protocol OffsiteCopy: Sendable {
    /// Follows the store until the receiver's graceful shutdown.
    var service: any Service { get }
    /// Why the receiver is not ready because of the copy (a bucket without Object Lock), or nil.
    var notReadyReason: String? { get }
    /// The tree size of the newest manifest the copy holds (nil before the first).
    var copiedTreeSize: UInt64? { get }
    /// Copies its state into its metrics (called at each scrape of /metrics).
    func refreshMetrics()
    /// After the closing seal: copies what is left, giving up once the far end makes no progress
    /// for a bound the implementation states (a stop never waits on an unreachable bucket).
    func finalRound(logger: Logger) async
}
