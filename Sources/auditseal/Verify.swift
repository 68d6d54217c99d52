import ArgumentParser
import AuditSealCore
import Foundation

/// `auditseal verify`: proves a store intact, or says what was changed and where.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a store: signatures, manifest chain, segment hashes, hash chain and Merkle roots, heartbeats, write-ahead segments.",
        discussion: "Exit 0 when intact, 1 when tampered, 2 on usage errors.")

    @Argument(help: "The data directory to verify.")
    var store: String

    @Option(name: .customLong("public-key"), help: "A trusted Ed25519 public key (PEM); repeat for rotated keys. Without it, the store's own key copies are used, which proves internal consistency only.")
    var publicKeys: [String] = []

    @Flag(help: "Print a machine-readable JSON report.")
    var json = false

    @Option(help: "Judge the tail's age as of this RFC 3339 time instead of now.")
    var now: String?

    func run() throws {
        guard FileIO.exists(store) else { throw ValidationError("\(store) does not exist") }
        var options = Verifier.Options(trustedKeys: publicKeys.isEmpty ? nil : try publicKeys.map(KeyFiles.loadPublicKey(path:)))
        if let now {
            guard let date = Timestamp.parse(now) else { throw ValidationError("--now must be an RFC 3339 time like 2026-01-02T03:04:05Z") }
            options.now = date
        }
        let showProgress = !json && isatty(2) == 1
        if showProgress {
            options.progress = { done, total in
                FileHandle.standardError.write(Data("\rverifying segments \(done)/\(total)".utf8))
                if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
            }
        }
        let report = Verifier(source: DirectorySource(root: store), options: options).run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.text(report))
        }
        if !report.intact { throw ExitCode(1) }
    }

    static func text(_ report: VerificationReport) -> String {
        var out = [String]()
        out.append("store:     \(report.source)")
        out.append("node:      \(report.node ?? "?")   chain \(report.chainID ?? "?")")
        out.append("manifests: \(report.manifests) (\(report.segments) segments, \(report.heartbeats) heartbeats), last sealed \(report.lastManifestAt ?? "never")")
        out.append("events:    \(report.sealedEvents) sealed + \(report.openEvents) open = tree size \(report.treeSize), root \(report.treeRoot ?? "?")")
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
