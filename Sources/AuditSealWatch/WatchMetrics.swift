import FoundationEssentials
import Prometheus
import AuditSealCore

/// The watcher's /metrics: per node and chain, and for the watcher itself.
public final class WatchMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let polls: Counter
    let pollFailures: Counter
    let lastPoll: Gauge
    let downloaded: Counter
    let alertsSent: Counter
    let alertFailures: Counter

    static func name(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "auditseal_watch", metricName: name, unitName: unit, helpText: help)
    }

    public init() {
        polls = registry.makeCounter(descriptor: Self.name("polls", "total", "Polls of the bucket."))
        pollFailures = registry.makeCounter(descriptor: Self.name("poll_failures", "total", "Polls that failed (listing, download, state); each is retried at the next interval."))
        lastPoll = registry.makeGauge(descriptor: Self.name("last_poll_timestamp", "seconds", "When the last successful poll ended (Unix time)."))
        downloaded = registry.makeCounter(descriptor: Self.name("objects_downloaded", "total", "Objects downloaded from the bucket (each original version once)."))
        alertsSent = registry.makeCounter(descriptor: Self.name("alerts_sent", "total", "Alerts delivered to an alert URL."))
        alertFailures = registry.makeCounter(descriptor: Self.name("alert_failures", "total", "Alert deliveries that failed (retried at the next poll)."))
    }

    private func labels(_ node: String, _ chain: String) -> [(String, String)] { [("node", node), ("chain", chain)] }

    func store(node: String, chain: String, treeSize: UInt64, secondsSinceManifest: Double?, lag: Double?, closed: Bool = false) {
        registry.makeGauge(descriptor: Self.name("tree_size", "", "Events verified, per node and chain."), labels: labels(node, chain)).set(to: Double(treeSize))
        registry.makeGauge(descriptor: Self.name("chain_closed", "", "1 when the chain's newest manifest is a closing one (the node stopped cleanly, no manifest is due), else 0."),
                           labels: labels(node, chain)).set(to: closed ? 1 : 0)
        if let secondsSinceManifest {
            registry.makeGauge(descriptor: Self.name("seconds_since_manifest", "", "Age of the newest manifest in the bucket (by its sealedAt), per node and chain."),
                               labels: labels(node, chain)).set(to: secondsSinceManifest)
        }
        if let lag {
            registry.makeGauge(descriptor: Self.name("verification_lag", "seconds", "From the newest manifest landing in the bucket to its verification, at the last poll that verified one."),
                               labels: labels(node, chain)).set(to: lag)
        }
    }

    func completeness(node: String, chain: String, _ r: CompletenessReport) {
        let l = labels(node, chain)
        registry.makeGauge(descriptor: Self.name("backfilled_events", "", "Events the node's receiver backfilled from the API server's log file."), labels: l).set(to: Double(r.backfilledEvents))
        registry.makeGauge(descriptor: Self.name("copy_mismatches", "", "Stored events that differ from the API server's log file."), labels: l).set(to: Double(r.mismatchedEvents))
        registry.makeGauge(descriptor: Self.name("unreconciled_windows", "", "Windows the node's reconciliation could not cover (no log file, metrics unreachable)."), labels: l).set(to: Double(r.gaps.count))
        for (plugin, total) in r.sourceDroppedTotal {
            registry.makeGauge(descriptor: Self.name("source_dropped_events", "", "Audit events the API server counted as dropped, by plugin."), labels: l + [("plugin", plugin)]).set(to: Double(total))
        }
    }

    func finding(_ f: WatchFinding) {
        registry.makeCounter(descriptor: Self.name("findings", "total", "Findings by kind, per node and chain (each reported once)."),
                             labels: labels(f.node, f.chainID) + [("kind", f.kind)]).increment()
    }

    func render() -> [UInt8] { registry.emitToBuffer() }
}
