import AsyncHTTPClient
import AuditSealCore
import FoundationEssentials
import Logging
import Metrics
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Scrapes each API server's /metrics on an interval and turns increases of
/// `apiserver_audit_error_total{plugin}` into `auditseal_source_dropped_events_total{plugin,server}`,
/// a log line, and a drop with its time window in the completeness report. Restarts (counters back
/// at zero) and several API servers are handled; an unreachable server's window is recorded.
public final class SourceMetricsScraper: Service, Sendable {
    let endpoints: [APIServerEndpoint]
    let database: ReconcileDatabase
    let dataDirectory: String
    let interval: Double
    let logger: Logger
    private let clients: [String: HTTPClient]
    /// When each server's scrapes began failing.
    private let failingSince = Locked([String: Date]())

    public init(endpoints: [APIServerEndpoint], database: ReconcileDatabase, dataDirectory: String, interval: Double, logger: Logger) throws {
        self.endpoints = endpoints
        self.database = database
        self.dataDirectory = dataDirectory
        self.interval = interval
        self.logger = logger
        var clients = [String: HTTPClient]()
        for endpoint in endpoints {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let ca = endpoint.caPEM { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8))) }
            if let cert = endpoint.clientCertificatePEM, let key = endpoint.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
            if endpoint.insecureSkipTLSVerify { tls.certificateVerification = .none }
            clients[endpoint.name] = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
                tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(20))))
        }
        self.clients = clients
    }

    public func run() async throws {
        // A stop cancels a scrape in flight and the sleep: never a wait of an interval.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.scrapeAll()
                try? await Task.sleep(for: .seconds(self.interval))  // the scrape interval, not a synchronization
            }
        }
        await shutdown()
    }

    /// Scrapes every server once (the tests call this directly).
    public func scrapeAll(now: Date = Date()) async {
        for endpoint in endpoints {
            do {
                let counters = try await fetch(endpoint)
                try record(endpoint, counters: counters, now: now)
            } catch {
                let first = failingSince.withLock { failing in
                    defer { failing[endpoint.name] = failing[endpoint.name] ?? now }
                    return failing[endpoint.name] == nil
                }
                if first {
                    logger.warning("source metrics: cannot scrape \(endpoint.url): \(error)")
                }
                Counter(label: "auditseal_source_scrape_failures_total", dimensions: [("server", endpoint.name)]).increment()
            }
        }
        try? database.writeReport(dataDirectory: dataDirectory, now: now)
        ReconcileService.announce("source-scrape servers=\(endpoints.count)")
    }

    /// Shuts the HTTP clients down (when not run as a service).
    public func shutdown() async {
        for client in clients.values { try? await client.shutdown() }
    }

    func fetch(_ endpoint: APIServerEndpoint) async throws -> SourceCounters {
        guard let client = clients[endpoint.name] else { throw AuditSealError(.usage, "no client for \(endpoint.name)") }
        var request = HTTPClientRequest(url: endpoint.url)
        request.headers.add(name: "Accept", value: "text/plain;version=0.0.4")
        if let token = try endpoint.currentToken() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await client.execute(request, timeout: .seconds(20))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else {
            throw AuditSealError(.io, "\(endpoint.url) answered \(response.status.code)\(response.status == .forbidden ? " (the ServiceAccount needs get on the non-resource URL /metrics)" : "")")
        }
        return SourceCounters(prometheusText: String(buffer: body))
    }

    func record(_ endpoint: APIServerEndpoint, counters: SourceCounters, now: Date) throws {
        let previous = try database.lastScrape(server: endpoint.name)
        var drops = [String: UInt64]()
        var gap: String?
        let since = previous?.1
        if let (old, _) = previous {
            let change = counters.change(since: old)
            drops = change.dropped
            if change.restarted {
                gap = "\(endpoint.name) restarted between scrapes: drops it counted after the last scrape and before it restarted are unknown"
            }
            Counter(label: "auditseal_source_audit_events_total", dimensions: [("server", endpoint.name)]).increment(by: Int64(change.events))
        }
        if let down = failingSince.withLock({ $0.removeValue(forKey: endpoint.name) }), gap == nil, previous == nil {
            gap = "\(endpoint.name) metrics unreachable from \(Timestamp.format(down))"
        }
        for (plugin, events) in drops.sorted(by: { $0.key < $1.key }) {
            Counter(label: "auditseal_source_dropped_events_total", dimensions: [("plugin", plugin), ("server", endpoint.name)]).increment(by: Int64(events))
            logger.error("the API server \(endpoint.name) dropped \(events) audit events (apiserver_audit_error_total{plugin=\"\(plugin)\"}) between \(Timestamp.format(since ?? now)) and \(Timestamp.format(now))")
        }
        try database.recordScrape(server: endpoint.name, counters: counters, at: now, drops: drops, since: since, gap: gap)
    }
}
