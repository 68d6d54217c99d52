import AuditSealCore
import FoundationEssentials
import Glibc
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// The webhook receiver: opens the store (recovering it first), serves ingest and ops routes on the
/// main listener (and ops routes on the optional ops listener), re-verifies in the background, and
/// on SIGTERM/SIGINT stops accepting, finishes in-flight batches and seals the open segment.
public final class Receiver: Sendable {
    public let configuration: ServeConfiguration
    /// The store; reconciliation appends backfilled events to it.
    public let store: AuditStore
    /// Every metric /metrics renders; `serve` points swift-metrics at its registry.
    public let metrics = ReceiverMetrics()
    let logger: Logger
    let key: Ed25519PrivateKey
    /// The signing key's file, read again on SIGHUP for a rotation.
    let keyPath: String
    /// The offsite copy of what is sealed (shipping to S3 Object Lock), when configured.
    public let offsite: (any OffsiteCopy)?
    /// Runs on each webhook batch before it is appended (redaction), when given.
    let preparer: (any BatchPreparing)?

    /// Opens the store; throws with a message naming what is wrong. With a `preparer` (redaction),
    /// no body is spooled: a body on disk before its scan would put unredacted values there.
    /// `offsite` makes the offsite copy once the store is open (`serve` gives shipping's).
    public init(configuration: ServeConfiguration, logger: Logger, preparer: (any BatchPreparing)? = nil,
                offsite makeOffsite: (AuditStore) throws -> (any OffsiteCopy)? = { _ in nil }) throws {
        try configuration.validate()
        var configuration = configuration
        if preparer != nil { configuration.spoolThresholdBytes = Int.max }
        self.configuration = configuration
        self.preparer = preparer
        self.logger = logger
        if let warning = FileDescriptorLimit.raise(for: configuration.maxConnections) { logger.warning("\(warning)") }
        try FileIO.makeDirectories(configuration.dataDir)
        let keyPath = configuration.keyPath
        // The executable creates a development key when asked to (`serve`); a library never does.
        guard FileIO.exists(keyPath) else { throw ConfigurationError("signingKey: \(keyPath) does not exist") }
        key = try KeyFiles.loadPrivateKey(path: keyPath)
        self.keyPath = keyPath
        var storeConfig = StoreConfiguration(dataDirectory: configuration.dataDir, nodeName: configuration.node ?? HostName.current)
        storeConfig.segmentMaxBytes = configuration.segmentMaxBytes
        storeConfig.segmentMaxAge = configuration.segmentMaxAgeSeconds
        storeConfig.heartbeatInterval = configuration.heartbeatIntervalSeconds
        storeConfig.gzipLevel = configuration.gzipLevel
        storeConfig.duplicateWindow = configuration.duplicateWindow
        let started = Date()
        store = try AuditStore(configuration: storeConfig, signingKey: key)
        for note in store.recoveryNotes { logger.warning("recovery: \(note)") }
        try Self.prepareSpool(store.layout.spoolDirectory)
        logger.info("store open", metadata: ["dataDir": "\(configuration.dataDir)", "events": "\(store.status.nextIndex)",
                                             "recoverySeconds": "\(Date().timeIntervalSince(started).fixed(3))",
                                             "keyID": "\(key.publicKey.keyID)"])
        offsite = try makeOffsite(store)
        // And one per manifest (off the store's lock: standard output may be a slow pipe).
        store.observeManifests { sequence, segment in Task { Receiver.announce("sealed \(segment ? "segment" : "heartbeat") \(sequence)") } }
    }

    /// The ingest path's routes (POST; GET answers 405), with per-route request counts and durations
    /// through swift-metrics (hb_requests_total, http_server_request_duration_seconds), rendered from
    /// the registry once `serve` bootstraps it. The same router the in-process tests drive.
    static func router(_ ingest: IngestRoute, path: String) -> Router<ReceiverContext> {
        let router = Router(context: ReceiverContext.self)
        router.add(middleware: MetricsMiddleware())
        router.post(RouterPath(path)) { request, context in await ingest.handle(request, context: context) }
        router.on(RouterPath(path), method: .get) { _, _ in
            OpsRoutes.text(.methodNotAllowed, "POST an audit.k8s.io/v1 EventList here\n")
        }
        return router
    }

    /// Creates the spool directory and removes what a crash may have left there (spool files are
    /// unlinked as soon as they are created, so at most one per request being received).
    private static func prepareSpool(_ directory: String) throws {
        try FileIO.makeDirectories(directory)
        for name in try FileIO.list(directory) where name.hasPrefix("spool-") { _ = unlink(directory + "/" + name) }
    }

    /// Serves until SIGTERM or SIGINT, then seals and returns.
    /// Serves until SIGTERM/SIGINT; `extraServices` (e.g. witness submission) run beside the
    /// receiver's own and stop with it.
    /// `afterClosing` runs once the closing manifest is written and before the final shipping
    /// round, so that what it adds (a witness's cosignature of the closing checkpoint) ships too.
    /// `stopSignals` (the executable's: SIGTERM and SIGINT for `serve`) start the graceful stop.
    public func run(extraServices: [any Service] = [], stopSignals: [UnixSignal] = [], afterClosing: @Sendable () async -> Void = {}) async throws {
        let token = try configuration.tokenFile.map(BearerToken.init(path:))
        let ingest = IngestRoute(store: store, configuration: configuration, metrics: metrics, token: token, logger: logger,
                                 budget: MemoryBudget(limit: configuration.maxInflightBytes),
                                 lane: LargeBatchLane(threshold: configuration.largeBatchBytes), preparer: preparer)
        let ops = OpsRoutes(store: store, configuration: configuration, metrics: metrics, offsite: offsite)

        let router = Self.router(ingest, path: configuration.ingestPath)
        ops.register(on: router)

        let main = try HostPort(configuration.listen).unwrap("listen")
        let scheme = configuration.tlsCert == nil ? "http" : "https"
        let headerTimeout = TimeAmount.milliseconds(Int64(configuration.headerTimeoutSeconds * 1000))
        let slots = ConnectionSlots(limit: configuration.maxConnections, metrics: metrics)
        let http1Configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionSlots.Handler(slots: slots), HeaderDeadlineHandler(timeout: headerTimeout)],
            idleTimeout: .milliseconds(Int64(configuration.idleTimeoutSeconds * 1000)))
        let tls = try tlsContextHolder()
        let server: HTTPServerBuilder
        if let tls {
            server = HTTPServerBuilder { responder in
                ReloadableTLSChannel(base: HTTP1Channel(responder: responder, configuration: http1Configuration), holder: tls)
            }
        } else {
            server = .http1(configuration: http1Configuration)
        }
        let logger = logger
        var services: [any Service] = [Application(
            router: router, server: server,
            configuration: .init(address: .hostname(main.host, port: main.port), serverName: nil,
                                 availableConnectionsDelegate: slots.acceptGate),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? main.port
                logger.notice("listening on \(scheme)://\(main.host):\(port)\(self.configuration.ingestPath)")
                Receiver.announce("listening \(scheme)://\(main.host):\(port)")
            },
            logger: logger)]
        if let opsListen = configuration.opsListen {
            let opsAddress = try HostPort(opsListen).unwrap("opsListen")
            let opsRouter = Router(context: BasicRequestContext.self)
            ops.register(on: opsRouter)
            services.append(Application(
                router: opsRouter, configuration: .init(address: .hostname(opsAddress.host, port: opsAddress.port)),
                onServerRunning: { channel in
                    Receiver.announce("ops http://\(opsAddress.host):\(channel.localAddress?.port ?? opsAddress.port)")
                },
                logger: logger))
        }
        services.append(ReloadService(tls: tls, token: token, signingKey: (keyPath, store), checkInterval: 10, logger: logger))
        services.append(VerificationService(store: store, dataDir: configuration.dataDir, publicKey: key.publicKey,
                                            interval: configuration.verifyIntervalSeconds, metrics: metrics, logger: logger))
        if let offsite { services.append(offsite.service) }
        services += extraServices
        // Last in the list, so the first told of a stop (services stop in reverse order).
        services.append(StopAnnouncer(logger: logger))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: stopSignals, logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("server stopped: \(error)")
            try? await store.close()
            throw error
        }
        logger.notice("stopped accepting; sealing the open segment")
        try await store.close()
        let status = store.status
        logger.notice("sealed and stopped", metadata: ["events": "\(status.nextIndex)", "manifest": "\(status.manifestSequence)"])
        await afterClosing()
        await offsite?.finalRound(logger: logger)
    }

    /// Server TLS: the certificate and key, and the client CA (certificates are asked for, checked
    /// when presented, and required by the ingest route only). Reloadable: see `ReloadService`.
    func tlsContextHolder() throws -> TLSContextHolder? {
        guard let certPath = configuration.tlsCert, let keyPath = configuration.tlsKey else { return nil }
        let ca = configuration.clientCA
        return try TLSContextHolder(files: [certPath, keyPath] + (ca.map { [$0] } ?? [])) {
            let chain = try NIOSSLCertificate.fromPEMFile(certPath).map { NIOSSLCertificateSource.certificate($0) }
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
            tls.minimumTLSVersion = .tlsv12
            if let ca {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
                tls.certificateVerification = .optionalVerification
            }
            return try NIOSSLContext(configuration: tls)
        }
    }

    /// A line on standard output for scripts and tests that start the receiver on port 0.
    public static func announce(_ line: String) {
        Console.standardOutput.write(Data("auditseal: \(line)\n".utf8))
    }

}

extension Optional {
    func unwrap(_ field: String) throws -> Wrapped {
        guard let value = self else { throw ConfigurationError("\(field): not HOST:PORT") }
        return value
    }
}

/// Says when a stop begins (services are told in reverse order, and this one is last): the rest of
/// the stop, in-flight batches and the closing seal, is logged as it happens.
struct StopAnnouncer: Service {
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.notice("stopping: no new connections; finishing in-flight batches, then sealing")
    }
}
