import Foundation

/// A small Prometheus registry: counters, gauges and histograms rendered in the text exposition
/// format (version 0.0.4). Thread-safe; cheap enough for per-request updates.
public final class Metrics: @unchecked Sendable {
    private let lock = NSLock()
    private var counters = [String: Double]()
    private var gauges = [String: Double]()
    private var histograms = [String: Histogram]()
    private var help = [String: (String, String)]()  // family -> (type, help)

    struct Histogram {
        var buckets: [Double]
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    public init() {}

    /// Declares a metric family's type and help text.
    public func describe(_ name: String, type: String, _ text: String) {
        lock.lock(); defer { lock.unlock() }
        help[name] = (type, text)
    }

    /// Adds to a counter (name may carry labels: `name{label="v"}`).
    public func increment(_ name: String, by value: Double = 1) {
        lock.lock(); defer { lock.unlock() }
        counters[name, default: 0] += value
    }

    /// Sets a gauge.
    public func set(_ name: String, _ value: Double) {
        lock.lock(); defer { lock.unlock() }
        gauges[name] = value
    }

    /// Records an observation in a histogram with the given upper bounds.
    public func observe(_ name: String, _ value: Double, buckets: [Double]) {
        lock.lock(); defer { lock.unlock() }
        var h = histograms[name] ?? Histogram(buckets: buckets, counts: Array(repeating: 0, count: buckets.count))
        for (i, bound) in h.buckets.enumerated() where value <= bound { h.counts[i] += 1 }
        h.sum += value
        h.count += 1
        histograms[name] = h
    }

    /// The current value of a counter or gauge (for tests and readiness).
    public func value(_ name: String) -> Double? {
        lock.lock(); defer { lock.unlock() }
        return counters[name] ?? gauges[name]
    }

    /// The exposition text.
    public func render() -> String {
        lock.lock(); defer { lock.unlock() }
        var out = ""
        var described = Set<String>()
        func header(_ series: String) {
            let family = String(series.prefix { $0 != "{" })
            guard !described.contains(family), let (type, text) = help[family] else { return }
            described.insert(family)
            out += "# HELP \(family) \(text)\n# TYPE \(family) \(type)\n"
        }
        for (name, value) in counters.sorted(by: { $0.key < $1.key }) { header(name); out += "\(name) \(format(value))\n" }
        for (name, value) in gauges.sorted(by: { $0.key < $1.key }) { header(name); out += "\(name) \(format(value))\n" }
        for (name, h) in histograms.sorted(by: { $0.key < $1.key }) {
            header(name)
            for (i, bound) in h.buckets.enumerated() { out += "\(name)_bucket{le=\"\(format(bound))\"} \(h.counts[i])\n" }
            out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(format(h.sum))\n\(name)_count \(h.count)\n"
        }
        return out
    }

    private func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
