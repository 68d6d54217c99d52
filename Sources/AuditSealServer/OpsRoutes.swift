import AuditSealCore
import AuditSealShipping
import Foundation
import Hummingbird
import NIOCore

/// /healthz, /readyz and /metrics: answered without a client certificate or token.
struct OpsRoutes: Sendable {
    let store: AuditStore
    let configuration: ServeConfiguration
    let metrics: Metrics
    let shipper: Shipper?

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/healthz") { _, _ in Self.text(.ok, "ok\n") }
        router.get("/readyz") { _, _ in
            let problems = readinessProblems()
            return problems.isEmpty ? Self.text(.ok, "ready\n") : Self.text(.serviceUnavailable, "not ready: " + problems.joined(separator: "; ") + "\n")
        }
        router.get("/metrics") { _, _ in
            refreshGauges()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }

    /// What keeps the receiver from taking batches now; empty when ready.
    func readinessProblems() -> [String] {
        var problems = [String]()
        let status = store.status
        if let error = status.lastError { problems.append(error) }
        if let free = DiskSpace.freeBytes(at: configuration.dataDir), free < Int64(configuration.minFreeBytes) {
            problems.append("only \(free) bytes free in \(configuration.dataDir) (minFreeBytes \(configuration.minFreeBytes))")
        }
        let probe = configuration.dataDir + "/.readyz-probe"
        if (try? FileIO.writeAtomically(path: probe, bytes: [0x31])) == nil {
            problems.append("data directory is not writable")
        } else {
            _ = unlink(probe)
        }
        if let shipping = shipper?.snapshot, shipping.objectLockEnabled == false {
            problems.append("s3 bucket has no Object Lock: sealed segments are not being shipped")
        }
        return problems
    }

    func refreshGauges() {
        let status = store.status
        metrics.set("auditseal_chain_index", Double(status.nextIndex))
        metrics.set("auditseal_segments_sealed", Double(status.segmentsSealed))
        metrics.set("auditseal_manifest_sequence", Double(status.manifestSequence))
        metrics.set("auditseal_seal_failures", Double(status.sealFailures))
        metrics.set("auditseal_open_segment_bytes", Double(status.openSegmentBytes))
        if let at = status.lastManifestAt { metrics.set("auditseal_last_seal_timestamp_seconds", at.timeIntervalSince1970) }
        if let free = DiskSpace.freeBytes(at: configuration.dataDir) { metrics.set("auditseal_disk_free_bytes", Double(free)) }
        if let shipper { metrics.record(shipper.snapshot) }
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Free space on the file system holding a path.
enum DiskSpace {
    static func freeBytes(at path: String) -> Int64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }
}

extension Metrics {
    /// Declares every family the receiver exports.
    func describeReceiverFamilies() {
        describe("auditseal_events_ingested_total", type: "counter", "Events durably stored.")
        describe("auditseal_bytes_ingested_total", type: "counter", "Request body bytes of stored batches (decoded).")
        describe("auditseal_batches_total", type: "counter", "Ingest requests by answer status code.")
        describe("auditseal_duplicates_dropped_total", type: "counter", "Re-sent events (same auditID and stage) not stored again.")
        describe("auditseal_bodies_spooled_total", type: "counter", "Request bodies over spoolThresholdBytes, spooled to disk instead of held in memory.")
        describe("auditseal_append_seconds", type: "histogram", "Time to chain and fsync a batch (group commit included).")
        describe("auditseal_request_seconds", type: "histogram", "Ingest request time, body read included.")
        describe("auditseal_chain_index", type: "gauge", "Events in the chain (the next event's index).")
        describe("auditseal_segments_sealed", type: "gauge", "Segments sealed since start.")
        describe("auditseal_manifest_sequence", type: "gauge", "Latest manifest sequence number.")
        describe("auditseal_seal_failures", type: "gauge", "Sealing attempts that failed since start.")
        describe("auditseal_open_segment_bytes", type: "gauge", "Bytes in the open write-ahead segment.")
        describe("auditseal_last_seal_timestamp_seconds", type: "gauge", "When the latest manifest was written (Unix time).")
        describe("auditseal_disk_free_bytes", type: "gauge", "Free bytes on the data directory's file system.")
        describe("auditseal_verification_runs_total", type: "counter", "Background verifications run.")
        describe("auditseal_verification_failures_total", type: "counter", "Background verifications that found the store not intact.")
        describe("auditseal_last_verification_intact", type: "gauge", "1 when the latest background verification found the store intact.")
        // Counters exist from the start, at zero, as Prometheus expects.
        for counter in ["auditseal_events_ingested_total", "auditseal_bytes_ingested_total", "auditseal_duplicates_dropped_total", "auditseal_bodies_spooled_total",
                        "auditseal_verification_runs_total", "auditseal_verification_failures_total"] {
            increment(counter, by: 0)
        }
    }
}
