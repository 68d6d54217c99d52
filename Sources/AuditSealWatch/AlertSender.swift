import AuditSealCore
import AsyncHTTPClient
import FoundationEssentials
import Logging
import NIOCore

/// POSTs findings to alert URLs in the Alertmanager v2 format (`POST /api/v2/alerts`: a JSON
/// array of alerts with labels, annotations and startsAt), which a plain JSON webhook can read
/// too. A delivery that fails is kept and retried with the next batch.
public final class AlertSender: Sendable {
    let urls: [String]
    let http: HTTPClient
    let logger: Logger
    let metrics: WatchMetrics
    private let queued = Locked([String: [WatchFinding]]())  // url -> findings not yet delivered

    public init(urls: [String], metrics: WatchMetrics, logger: Logger) {
        self.urls = urls
        self.metrics = metrics
        self.logger = logger
        http = HTTPClient.shared  // the process-wide client: nothing to shut down
    }

    /// The Alertmanager v2 body for findings.
    static func body(_ findings: [WatchFinding]) throws -> [UInt8] {
        let alerts: [JSONValue] = findings.map { f in
            var labels = ["alertname": "AuditSealWatchFinding", "kind": f.kind, "node": f.node, "chain": f.chainID,
                          "severity": f.kind == "tail-gap" || f.kind == "retention-short" ? "warning" : "critical"]
            if let file = f.file { labels["file"] = file }
            return ["labels": .object(labels.mapValues(JSONValue.string)),
                    "annotations": ["summary": .string("auditseal watch: \(f.kind) on \(f.node) (chain \(f.chainID.prefix(8)))"), "description": .string(f.message)],
                    "startsAt": .string(Timestamp.formatWholeSeconds(f.seenAt)),
                    "generatorURL": .string("auditseal-watch://\(f.node)/\(f.chainID)")]
        }
        return try JSONValue.array(alerts).bytes()
    }

    /// Sends new findings, and whatever earlier deliveries left over, to every URL.
    public func send(_ findings: [WatchFinding]) async {
        for url in urls {
            let batch: [WatchFinding] = queued.withLock { queued in
                let all = (queued[url] ?? []) + findings
                queued[url] = []
                return all
            }
            guard !batch.isEmpty else { continue }
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: try Self.body(batch)))
                let response = try await http.execute(request, timeout: .seconds(10))
                guard (200..<300).contains(Int(response.status.code)) else { throw AlertError(status: Int(response.status.code)) }
                metrics.alertsSent.increment(by: Int64(batch.count))
            } catch {
                metrics.alertFailures.increment()
                logger.error("alert delivery to \(url) failed, retrying with the next poll: \(error)")
                queued.withLock { $0[url, default: []].insert(contentsOf: batch, at: 0) }
            }
        }
    }

    struct AlertError: Error, CustomStringConvertible {
        var status: Int
        var description: String { "HTTP \(status)" }
    }
}
