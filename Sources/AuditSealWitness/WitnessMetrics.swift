import FoundationEssentials
import Prometheus

/// The witness's /metrics.
public final class WitnessMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    static func name(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "auditseal_witness", metricName: name, unitName: unit, helpText: help)
    }

    public init() {}

    func requests(status: Int) {
        registry.makeCounter(descriptor: Self.name("requests", "total", "add-checkpoint requests by answer status."), labels: [("code", String(status))]).increment()
    }

    func cosigned(origin: String, size: UInt64) {
        registry.makeCounter(descriptor: Self.name("cosignatures", "total", "Checkpoints cosigned, per log origin."), labels: [("origin", origin)]).increment()
        registry.makeGauge(descriptor: Self.name("cosigned_tree_size", "", "The latest cosigned tree size, per log origin."), labels: [("origin", origin)]).set(to: Double(size))
    }

    func conflict(origin: String) {
        registry.makeCounter(descriptor: Self.name("conflicts", "total", "Checkpoints refused because they do not extend what was cosigned (a fork or a rewritten history), per log origin."),
                             labels: [("origin", origin)]).increment()
    }

    public func render() -> [UInt8] { registry.emitToBuffer() }
}
