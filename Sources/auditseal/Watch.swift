import ArgumentParser
import AuditSealCore
import AuditSealShipping
import AuditSealWatch
import FoundationEssentials
import Logging

/// `auditseal watch s3://BUCKET/PREFIX`: the off-node verifier.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow every node's chain in a bucket from off the cluster, verify each new object as it lands, and alert on findings.",
        discussion: """
            Meant to run where cluster administrators have no access (another cluster, another account), \
            with read-only bucket credentials (GetObject, GetObjectVersion, GetObjectRetention, ListBucket, \
            ListBucketVersions) and the public keys. Findings: any verification error; tail-gap (no new \
            manifest from a node for twice its heartbeat interval plus --grace-seconds); chain-restart (a \
            node's new chain while the old one never closed: a wiped data directory); retention-missing/-short; \
            object-overwritten/-deleted. Each finding is logged, printed ("auditseal: finding KIND ..."), counted \
            in /metrics and POSTed once to every --alert-url in the Alertmanager v2 format. State (a mirror of \
            the small files and what was verified) lives in --data-dir: a restart downloads nothing again.
            """)

    @Argument(help: "s3://BUCKET/PREFIX: every store under PREFIX/NODE/CHAIN-ID/.")
    var store: String

    @Option(name: .customLong("public-key"), help: "Trusted public key (PEM); repeatable. Key handovers are followed from these.")
    var publicKeys: [String] = []

    @Option(help: "The watcher's own state directory (created when missing).")
    var dataDir: String

    @Option(name: .customLong("alert-url"), help: "Alertmanager (http://HOST:9093/api/v2/alerts) or JSON webhook URL; repeatable.")
    var alertURLs: [String] = []

    @Option(help: "Seconds between polls.")
    var intervalSeconds: Double = 10

    @Option(help: "Grace added to twice a node's heartbeat interval before a tail gap is raised.")
    var graceSeconds: Double = 60

    @Option(help: "Hours between full re-verifications of every store from the bucket (0: never).")
    var fullVerificationHours: Double = 24

    @Option(help: "Where /metrics and /healthz answer.")
    var listen: String = "127.0.0.1:9444"

    @Flag(help: "Poll once, print the findings, exit 0 (none) or 1.")
    var once = false

    @OptionGroup(title: "S3")
    var s3: S3Options

    @OptionGroup(title: "Witnesses") var witnesses: WitnessOptions

    @Option(help: "With --witness: how long a new checkpoint may await its cosignatures before it is a finding.")
    var witnessGraceSeconds: Double = 300

    func run() async throws {
        guard let location = BucketURL(store) else { throw ValidationError("watch needs s3://BUCKET/PREFIX") }
        guard !publicKeys.isEmpty else { throw ValidationError("watch needs at least one --public-key") }
        guard intervalSeconds > 0, graceSeconds >= 0, fullVerificationHours >= 0 else { throw ValidationError("--interval-seconds must be positive, --grace-seconds and --full-verification-hours not negative") }
        let (bucket, prefix) = (location.bucket, location.prefix)
        let parts = listen.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--listen must be HOST:PORT") }
        let client = try s3.client(bucket: bucket, for: store)
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "auditseal-watch")
        var configuration = Watcher.Configuration(prefix: prefix, trustedKeys: try publicKeys.map(KeyFiles.loadPublicKey(path:)), dataDirectory: dataDir)
        configuration.interval = intervalSeconds
        configuration.graceSeconds = graceSeconds
        configuration.fullVerificationInterval = fullVerificationHours * 3600
        configuration.requiredRetentionDays = s3.retentionDays ?? 0
        configuration.witnessPolicy = try witnesses.policy()
        configuration.witnessGraceSeconds = witnessGraceSeconds
        let metrics = WatchMetrics()
        let alerts = alertURLs.isEmpty ? nil : AlertSender(urls: alertURLs, metrics: metrics, logger: logger)
        let watcher = try Watcher(configuration: configuration, client: client, alerts: alerts, metrics: metrics, logger: logger)
        watcher.onFinding = { f in
            Console.standardOutput.write(Data("auditseal: finding \(f.kind) node=\(f.node) chain=\(f.chainID) file=\(f.file ?? "-") \(f.message)\n".utf8))
        }
        if once {
            let found = try await watcher.pollOnce()
            try? await client.shutdown()
            // Say what was checked, not only what was found (nothing printed looked like nothing checked).
            let stores = watcher.stores
            for s in stores {
                print("auditseal: checked node=\(s.node) chain=\(s.chainID): \(s.treeSize) events verified, newest manifest \(s.lastManifestSequence) sealed \(s.lastManifestSealedAt ?? "-")\(s.closing ? " (closing: the node stopped cleanly)" : "")")
            }
            print("auditseal: \(stores.count) store(s) under \(store): \(found.isEmpty ? "no findings" : "\(found.count) finding(s)")")
            if !found.isEmpty { throw ExitCode(1) }
            return
        }
        try await WatchServer(watcher: watcher, host: String(parts[0]), port: port, logger: logger).run()
        try? await client.shutdown()
    }
}
