import AuditSealCore
import FoundationEssentials
import Glibc
import Hummingbird
import NIOCore

/// /healthz, /readyz and /metrics: answered without a client certificate or token.
struct OpsRoutes: Sendable {
    let store: AuditStore
    let configuration: ServeConfiguration
    let metrics: ReceiverMetrics
    let offsite: (any OffsiteCopy)?

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
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
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
        if let reason = offsite?.notReadyReason { problems.append(reason) }
        return problems
    }

    func refreshGauges() {
        let status = store.status
        metrics.chainIndex.set(to: Double(status.nextIndex))
        metrics.segmentsSealed.set(to: Double(status.segmentsSealed))
        metrics.manifestSequence.set(to: Double(status.manifestSequence))
        metrics.sealFailures.set(to: Double(status.sealFailures))
        metrics.openSegmentBytes.set(to: Double(status.openSegmentBytes))
        if let at = status.lastManifestAt { metrics.lastSealTimestamp.set(to: at.timeIntervalSince1970) }
        metrics.heartbeatInterval.set(to: configuration.heartbeatIntervalSeconds)
        metrics.segmentMaxAge.set(to: configuration.segmentMaxAgeSeconds)
        if let space = DiskSpace.of(configuration.dataDir) {
            metrics.diskFreeBytes.set(to: Double(space.free))
            metrics.diskSizeBytes.set(to: Double(space.size))
        }
        metrics.ready.set(to: readinessProblems().isEmpty ? 1 : 0)
        // How long acknowledged events have waited for a signed manifest, and for one in the bucket.
        let now = Date()
        let shipped = offsite.map { $0.copiedTreeSize ?? 0 }
        let uncommitted = store.oldestEventTime(from: status.committedTreeSize, forgetBefore: shipped ?? status.committedTreeSize)
        metrics.uncommittedAge.set(to: uncommitted.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        offsite?.refreshMetrics()
    }

    static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Free space on the file system holding a path.
enum DiskSpace {
    static func freeBytes(at path: String) -> Int64? { of(path)?.free }

    /// Bytes available to unprivileged writers, and the file system's size.
    static func of(_ path: String) -> (free: Int64, size: Int64)? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return (Int64(s.f_bavail) * Int64(s.f_frsize), Int64(s.f_blocks) * Int64(s.f_frsize))
    }
}
