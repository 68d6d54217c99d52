import ArgumentParser
import AuditSealCore
import AuditSealServer
import AuditSealShipping
import FoundationEssentials
import Glibc

/// `auditseal verify`: proves a store intact, or says what was changed and where.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a store: signatures, manifest chain, segment hashes, hash chain and Merkle roots, heartbeats, write-ahead segments.",
        discussion: """
            STORE is a data directory, or s3://BUCKET/PREFIX for what was shipped (with --s3-endpoint; read-only \
            credentials suffice: GetObject, GetObjectRetention, ListBucket, ListBucketVersions). Under a prefix every \
            node's chain is verified and reported side by side; the bucket adds checks for Object Lock retention and \
            for sealed objects overwritten or deleted. Exit 0 when intact, 1 when tampered, 2 on usage errors.
            """)

    @Argument(help: "The data directory, or s3://BUCKET/PREFIX (not with --combine).")
    var store: String?

    @Option(help: "Verify only shard I of N (\"I/N\", 0 <= I < N): every N-th segment from the I-th; manifests and their chain are checked by every shard. With --json, for --combine. On Kubernetes: an Indexed Job with --shard $(JOB_COMPLETION_INDEX)/N (deploy/verify-job).")
    var shard: String?

    @Option(parsing: .upToNextOption, help: "Join the JSON reports of every shard (files from verify --shard I/N --json) into one verdict, equal to an unsharded run's.")
    var combine: [String] = []

    @OptionGroup(title: "Verifying from S3") var s3: S3Options

    @Option(name: .customLong("public-key"), help: "A trusted Ed25519 public key (PEM); repeat for rotated keys. Without it, the store's own key copies are used, which proves internal consistency only.")
    var publicKeys: [String] = []

    @Flag(help: "Print a machine-readable JSON report.")
    var json = false

    @OptionGroup(title: "Witnesses") var witnesses: WitnessOptions

    @Option(help: "With --witness: checkpoints sealed less than this many seconds before the newest may still await cosignatures.")
    var witnessGraceSeconds: Double = 0

    @Option(help: "Judge the tail's age as of this RFC 3339 time instead of now.")
    var now: String?

    func run() async throws {
        if !combine.isEmpty {
            guard store == nil, shard == nil else { throw ValidationError("--combine takes report files, not a store or --shard") }
            try output(try Self.combined(combine))
            return
        }
        guard let store else { throw ValidationError("give a store (a data directory or s3://BUCKET/PREFIX), or --combine FILES") }
        let options = try verifierOptions()
        if store.hasPrefix("s3://") {
            try await verifyBucket(store, options: options)
            return
        }
        guard FileIO.exists(store) else { throw ValidationError("\(store) does not exist") }
        var local = options
        local.shippedElsewhere = ShippedSegments.hashes(dataDirectory: store)
        let report = Verifier(source: DirectorySource(root: store), options: local).run()
        try output([report])
    }

    func verifierOptions() throws -> Verifier.Options {
        var options = Verifier.Options(trustedKeys: publicKeys.isEmpty ? nil : try publicKeys.map(KeyFiles.loadPublicKey(path:)))
        options.witnessPolicy = try witnesses.policy()
        options.witnessGraceSeconds = witnessGraceSeconds
        if let shard {
            guard let parsed = Shard(shard) else { throw ValidationError("--shard must be I/N with 0 <= I < N, not \(shard)") }
            options.shard = parsed
        }
        if let now {
            guard let date = Timestamp.parse(now) else { throw ValidationError("--now must be an RFC 3339 time like 2026-01-02T03:04:05Z") }
            options.now = date
        }
        let showProgress = !json && isatty(2) == 1
        if showProgress {
            options.progress = { done, total in
                Console.standardError.write(Data("\rverifying segments \(done)/\(total)".utf8))
                if done == total { Console.standardError.write(Data("\n".utf8)) }
            }
        }
        return options
    }

    /// Prints the reports (one per store; several side by side for a bucket prefix) and exits 1 unless all are intact.
    func output(_ reports: [VerificationReport]) throws {
        if json {
            let encoder = JSONEncoder()
            // A shard's report is one line: `kubectl logs` of the Job's pods keeps it whole (it keeps
            // 10 lines by default, and a pretty report has hundreds).
            encoder.outputFormatting = shard == nil ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: reports.count == 1 ? try encoder.encode(reports[0]) : try encoder.encode(reports), as: UTF8.self))
        } else {
            print(reports.map(Self.text).joined(separator: "\n\n"))
            if reports.count > 1 { print("\n" + Self.summary(reports)) }
        }
        if reports.contains(where: { !$0.intact }) { throw ExitCode(1) }
    }

    /// The shards' reports, grouped by store (node and chain) and combined.
    static func combined(_ files: [String]) throws -> [VerificationReport] {
        var byStore = [String: [VerificationReport]]()
        var order = [String]()
        for file in files {
            let reports = try Self.reports(in: try FileIO.readAll(path: file), file: file)
            for r in reports {
                let key = "\(r.node ?? "?")/\(r.chainID ?? "?")"
                if byStore[key] == nil { order.append(key) }
                byStore[key, default: []].append(r)
            }
        }
        do {
            return try order.map { try VerificationReport.combine(byStore[$0]!) }
        } catch let error as AuditSealError {
            throw ValidationError(error.reason)
        }
    }

    /// The reports in a file: a whole `verify --json` output, or a pod's log in which the report is
    /// one line among others (`kubectl logs` of a shard: stderr lines are interleaved; the last
    /// line that is a report wins).
    static func reports(in bytes: [UInt8], file: String) throws -> [VerificationReport] {
        func decode(_ data: Data) throws -> [VerificationReport] {
            if let one = try? JSONDecoder().decode(VerificationReport.self, from: data) { return [one] }
            return try JSONDecoder().decode([VerificationReport].self, from: data)
        }
        do { return try decode(Data(bytes)) } catch {
            for line in bytes.split(separator: 0x0a).reversed() where line.first == UInt8(ascii: "{") || line.first == UInt8(ascii: "[") {
                if let found = try? decode(Data(line)) { return found }
            }
            throw ValidationError("\(file) is not a verify --json report (nor a log holding one on a line): \(error)")
        }
    }

    /// s3://BUCKET/PREFIX: every store under the prefix, downloaded and verified.
    func verifyBucket(_ store: String, options: Verifier.Options) async throws {
        guard let location = BucketURL(store) else { throw ValidationError("\(store): not s3://BUCKET/PREFIX") }
        let (bucket, prefix) = (location.bucket, location.prefix)
        let client = try s3.client(bucket: bucket, for: store)
        var reports = [VerificationReport]()
        do {
            let checker = BucketVerification(client: client, requiredRetentionDays: s3.retentionDays ?? 0, requiredLockMode: s3.lockMode)
            let stores = try await checker.discoverStores(prefix: prefix)
            if stores.isEmpty {
                try? await client.shutdown()
                Console.standardError.write(Data("auditseal: no auditseal store under \(store)\n".utf8))
                throw ExitCode(1)
            }
            for storePrefix in stores {
                if !json && isatty(2) == 1 { Console.standardError.write(Data("downloading s3://\(bucket)/\(storePrefix)\n".utf8)) }
                reports.append(try await checker.verify(storePrefix: storePrefix, options: options))
            }
        } catch let error as S3Error {
            try? await client.shutdown()
            Console.standardError.write(Data("auditseal: \(error)\n".utf8))
            throw ExitCode(2)
        }
        try? await client.shutdown()
        try output(reports)
    }

    /// One line per store: node, chain, events, last seal, verdict.
    static func summary(_ reports: [VerificationReport]) -> String {
        var lines = ["NODE                 CHAIN             EVENTS      SEGMENTS  LAST SEALED                  VERDICT"]
        for r in reports {
            let verdict = r.intact ? "INTACT" : "TAMPERED (\(r.findings.filter { $0.severity == .error }.count))"
            lines.append([pad(r.node ?? "?", 20), pad(String((r.chainID ?? "?").prefix(16)), 17), pad(String(r.treeSize), 11),
                          pad(String(r.segments), 9), pad(r.lastManifestAt ?? "never", 28), verdict].joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func text(_ report: VerificationReport) -> String {
        var out = [String]()
        out.append("store:     \(report.source)")
        out.append("node:      \(report.node ?? "?")   chain \(report.chainID ?? "?")")
        out.append("manifests: \(report.manifests) (\(report.segments) segments, \(report.heartbeats) heartbeats), last sealed \(report.lastManifestAt ?? "never")")
        out.append("events:    \(report.sealedEvents) sealed + \(report.openEvents) open = tree size \(report.treeSize), root \(report.treeRoot ?? "?")")
        if let witnessed = report.witnessedTreeSize { out.append("witnessed: up to tree size \(witnessed)") }
        // Completeness: the signed backfill marks, then the receiver's reconciliation account.
        out.append("complete:  backfilled \(report.backfilledEvents) event(s) from the API server's log file (marked in the signed manifests)")
        for line in report.completeness?.summaryLines ?? [] { out.append("           " + line) }
        for m in report.completeness?.mismatches.suffix(10) ?? [] {
            out.append("           DIFFERS: event \(m.eventIndex) (auditID \(m.auditID), stage \(m.stage)) vs \(m.file):\(m.line)")
        }
        if report.redactedValues > 0 {
            let erased = report.erasedValues.map { $0 == 0 ? "every original is in the vault (encrypted to the auditor keys)" : "\($0) erased: no vault record holds them (vault deleted, or no auditor key); the sealed record is whole" } ?? "the vault was not read"
            out.append("redacted:  \(report.redactedValues) value(s) sealed as markers; \(erased)")
        }
        if let shard = report.shard { out.append("shard:     \(shard): read \(report.shardSegments?.count ?? 0) of \(report.segments) segments (combine every shard's --json report with verify --combine)") }
        if report.trust == "store-keys" {
            out.append("NOTE: no --public-key given: signatures were checked against the store's own key copies (\(report.trustedKeyIDs.map { String($0.prefix(16)) }.joined(separator: ", "))).")
            out.append("      This proves internal consistency only, not who wrote the store. Pass --public-key with a key kept elsewhere.")
        }
        for finding in report.findings { out.append(finding.description) }
        let errors = report.findings.filter { $0.severity == .error }.count
        out.append(report.intact ? "INTACT: every check passed." : "TAMPERED: \(errors) problem(s) found.")
        return out.joined(separator: "\n")
    }
}
