import ArgumentParser
import Metrics
import Prometheus
import AuditSealCore
import AuditSealReconcile
import AuditSealRedaction
import AuditSealForwarding
import AuditSealServer
import AuditSealShipping
import AuditSealWitness
import FoundationEssentials
import Glibc
import Logging
import ServiceLifecycle
import UnixSignals

/// `auditseal serve`: the audit webhook receiver.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive audit events from Kubernetes API servers (the audit webhook backend) and seal them.",
        discussion: """
            With no options it starts a development receiver on http://127.0.0.1:8080/v1/audit with its data in \
            ./auditseal-data and a signing key created there (with a warning). Every setting below can also be set in the \
            YAML file given with --config, under the name shown in brackets; flags win over the file. \
            --config DIR reads every *.yaml in DIR in name order (a mounted ConfigMap: the base's auditseal.yaml, then an overlay's additions).
            Answers: 200 stored (or already stored), 400 not an EventList, 401/403 not authenticated/allowed, \
            408 body too slow, 413 body over --max-body-bytes or --max-batch-events, 415 not JSON, 503 + Retry-After: 1 storage unable to \
            make the batch durable. SIGTERM/SIGINT: finish in-flight batches, seal, exit 0.

            """ + "\n" + ServeSetting.helpText)

    @Option(help: "YAML configuration file, or a directory of them (*.yaml in name order); repeatable, a later file's top-level fields replacing an earlier one's.") var config: [String] = []
    @Flag(help: "No redaction (redaction.builtin false, no rules): credentials in events are sealed as they come. For stores whose audit policy already keeps them out, and for measurements. With redaction on, bodies are never spooled to disk.")
    var noRedaction = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    /// Every setting of the table (`ServeSetting.all`), as `--flag VALUE`: see SETTINGS in --help.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings as --NAME VALUE: see SETTINGS above.", valueName: "setting")) var settings: [String] = []

    func resolved() throws -> ServeConfiguration {
        var c: ServeConfiguration
        do {
            c = config.isEmpty ? ServeConfiguration() : try ServeConfiguration.load(yamlFiles: config)
            try ServeSetting.apply(arguments: settings, to: &c)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        if noRedaction {
            c.redaction.builtin = false
            c.redaction.personalData = []
            c.redaction.rules = []
        }
        do { try c.validate() } catch let error as ConfigurationError { throw ValidationError(error.description) }
        do { _ = try c.shippingConfiguration() } catch let error as S3Error { throw ValidationError(error.description) }
        return c
    }

    func run() async throws {
        let configuration = try resolved()
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level: unknown level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // The process's own concerns, before any service starts. A file-size limit (ulimit -f) must
        // fail a write with EFBIG, answered 503, not kill us; SIGHUP means "reload" (ReloadService),
        // and until that service listens it must not kill us either.
        signal(SIGXFSZ, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        let logger = Logger(label: "auditseal")
        try FileIO.makeDirectories(configuration.dataDir)
        if !FileIO.exists(configuration.keyPath) && configuration.autoCreateKey {
            _ = try KeyFiles.generate(at: configuration.keyPath)
            logger.warning("""
                CREATED A NEW SIGNING KEY at \(configuration.keyPath) (public key \(configuration.keyPath).pub). For development only: \
                a key kept beside the data proves nothing to an auditor. In production create one with \
                `auditseal keygen`, keep a copy of the .pub file away from this node, and pass --signing-key.
                """)
        }
        let redaction = try RedactionOptions.stage(configuration.redaction, dataDirectory: configuration.dataDir, logger: logger)
        let receiver: Receiver
        do {
            receiver = try Receiver(configuration: configuration, logger: logger, preparer: redaction) { store in
                // Progress for scripts and tests, beside the "listening" line: one line per confirmed object.
                try configuration.makeShipper(logger: logger).map { ShippingOffsite(shipper: $0, store: store) { Receiver.announce("shipped \($0)") } }
            }
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        } catch let error as S3Error {
            throw ValidationError(error.description)
        }
        var extra = [any Service]()
        var submitter: WitnessSubmitter?
        if !configuration.witnesses.isEmpty {
            let endpoints = try configuration.witnesses.map { WitnessSubmitter.Endpoint(url: $0.url, key: try WitnessKey(verifierKey: $0.key)) }
            submitter = WitnessSubmitter(dataDirectory: configuration.dataDir, endpoints: endpoints,
                                         interval: configuration.witnessIntervalSeconds, logger: Logger(label: "auditseal-witnessing"),
                                         manifests: receiver.store.sealedManifests())
            extra.append(submitter!)
        }
        // Whatever libraries emit through swift-metrics lands in the receiver's own registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: receiver.metrics.registry))
        if !configuration.sinks.isEmpty {
            let chain = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: receiver.store.layout.chainFile))
            // Segments local retention deleted after their upload are read back from the bucket.
            let shipper = (receiver.offsite as? ShippingOffsite)?.shipper
            let fetcher = try shipper.map { BucketFetcher(client: $0.client, storePrefix: try $0.storePrefix()) }
            for (i, sink) in configuration.sinks.enumerated() {
                do {
                    extra.append(try SinkService(settings: sink, dataDirectory: configuration.dataDir, sizes: receiver.store.committedSizes(),
                                                 node: chain.node, chainID: chain.chainID, fetcher: fetcher, logger: Logger(label: "auditseal-sink")))
                } catch {
                    // An unreadable kubeconfig, token, CA, certificate or key: named with its sink.
                    throw ValidationError("sinks[\(i)] (\(sink.name)): \(error)")
                }
            }
        }
        if let settings = configuration.reconcile {
            extra += try Self.reconciliationServices(settings, receiver: receiver, redaction: redaction)
        }
        // The closing checkpoint goes to the witnesses before the exit (its service has stopped by then).
        // The open vault file is closed too, so that the final shipping round takes it.
        try await receiver.run(extraServices: extra, stopSignals: [.sigterm, .sigint], afterClosing: { [submitter] in
            do { try redaction?.closeVault() } catch { logger.error("cannot close the vault file", metadata: ["error": "\(error)"]) }
            await submitter?.offerClosingCheckpoint(seconds: 5)
        })
    }

    /// The completeness services: reconciliation with the log files, and the API servers' drop counters.
    static func reconciliationServices(_ settings: ServeConfiguration.ReconcileSettings, receiver: Receiver,
                                       redaction: RedactionStage?) throws -> [any Service] {
        let dataDir = receiver.configuration.dataDir
        let database = try ReconcileDatabase(dataDirectory: dataDir)
        var services = [any Service]()
        if !settings.auditLogPaths.isEmpty {
            let store = receiver.store
            let backfiller = Backfiller(settings: .init(logPaths: settings.auditLogPaths, settleSeconds: settings.settleSeconds,
                                                        horizonSeconds: settings.horizonHours * 3600),
                                        database: database, dataDirectory: dataDir, logger: Logger(label: "auditseal-reconcile"),
                                        append: { try await store.append(try await redaction?.prepare($0) ?? $0) })
            if let redaction { backfiller.redactionChanges = { redaction.changes($0) } }
            services.append(ReconcileService(backfiller: backfiller, interval: settings.intervalSeconds, commits: store.committedSizes(),
                                             logger: Logger(label: "auditseal-reconcile")))
        }
        if !settings.apiServers.isEmpty {
            let endpoints = try settings.apiServers.enumerated().map { i, s -> APIServerEndpoint in
                // A file that cannot be read is named by its config key and by what provides it on Kubernetes.
                func read(_ path: String, _ key: String, _ provider: String) throws -> String {
                    do { return String(decoding: try FileIO.readAll(path: path), as: UTF8.self) } catch {
                        throw ValidationError("reconcile.apiServers[\(i)].\(key): cannot read \(path) (\(error)); \(provider)")
                    }
                }
                if let kubeconfig = s.kubeconfig {
                    _ = try read(kubeconfig, "kubeconfig", "a kubeconfig readable by the receiver")
                    return try APIServerEndpoint.kubeconfig(kubeconfig, name: s.name)
                }
                let url = s.url!.hasSuffix("/metrics") ? s.url! : s.url! + "/metrics"
                let projected = "on Kubernetes the DaemonSet's projected volume apiserver-metrics provides it (deploy/base/daemonset.yaml)"
                if let tokenFile = s.tokenFile { _ = try read(tokenFile, "tokenFile", "the ServiceAccount token; " + projected) }
                return APIServerEndpoint(name: s.name ?? APIServerEndpoint.hostPort(url), url: url, bearerTokenFile: s.tokenFile,
                                         caPEM: try s.caFile.map { try read($0, "caFile", "the API server's CA bundle; " + projected) },
                                         insecureSkipTLSVerify: s.insecureSkipTLSVerify ?? false)
            }
            services.append(try SourceMetricsScraper(endpoints: endpoints, database: database, dataDirectory: dataDir,
                                                     interval: settings.scrapeIntervalSeconds, logger: Logger(label: "auditseal-source-metrics")))
        }
        return services
    }
}
