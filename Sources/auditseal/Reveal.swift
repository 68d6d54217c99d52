import ArgumentParser
import AuditSealCore
import AuditSealRedaction
import FoundationEssentials

/// `auditseal reveal`: an auditor opens the redacted values of events with their private key.
struct RevealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reveal",
        abstract: "Decrypt the originals of an event's redacted values with an auditor key, and prove each and the event.",
        discussion: """
            Each marker's original is read from the vault (DATA_DIR/vault, or --vault), decrypted with --auditor-key, \
            and proved against the salted commitment the sealed line carries and the place the marker stands in. \
            The event's inclusion proof (as `auditseal prove` writes it; check it with `verify-proof`) goes to \
            --output. Prints one JSON object per value: index, rule, path, commitment, value, status (proved, \
            erased when no vault record holds it, not-for-this-key, or invalid: why). Exit 1 unless every value is proved.
            """)

    @Argument(help: "The data directory, or s3://BUCKET/PREFIX (then give --vault).")
    var store: String

    @Option(help: "The auditor's X25519 private key (PEM; auditseal keygen --auditor).")
    var auditorKey: String

    @Option(help: "The auditID of the event(s) to reveal (every stage found).")
    var auditId: String?

    @Option(name: .customLong("index"), help: "An event index; repeatable.")
    var indexes: [UInt64] = []

    @Option(help: "A directory of vault files (default: the data directory's vault/).")
    var vault: String?

    @OptionGroup var out: ProofOutputOptions

    func run() async throws {
        guard auditId != nil || !indexes.isEmpty else { throw ValidationError("give --audit-id or --index") }
        let key: AuditorKeys.PrivateKey
        do { key = try AuditorKeys.loadPrivate(path: auditorKey) } catch let error as AuditSealError { throw ValidationError(error.reason) }
        guard let vaultDirectory = vault ?? (store.hasPrefix("s3://") ? nil : StoreLayout(root: store).vaultDirectory) else {
            throw ValidationError("with an s3:// store, give --vault DIR (the vault objects, downloaded)")
        }
        let records = VaultFiles.records(in: vaultDirectory).map(\.record)
        let proofStore = try await out.open(store) { tree, source in
            guard let target = ProofBuilder(tree: tree, source: source).newestProvable() else { return [] }
            tree.useFrontier(of: target)
            var files = indexes.isEmpty ? tree.segments.map(\.file) : []
            files += tree.files(for: indexes.flatMap { ProofPlan.inclusion(index: $0, size: target.treeSize) }, lines: indexes)
            return files
        }
        let builder = ProofBuilder(tree: proofStore.tree, source: proofStore.source)
        guard let target = builder.newestProvable() else { throw ValidationError("the store has no sealed checkpoint to prove against") }
        var all = indexes
        if let auditId { all += try builder.find(auditID: auditId, stage: nil, in: proofStore.tree.segments.filter { $0.first < target.treeSize }) }
        guard !all.isEmpty else {
            Console.standardError.write(Data("auditseal: no sealed event with auditID \(auditId ?? "")\n".utf8))
            throw ExitCode(1)
        }
        let proof = try builder.inclusion(indexes: all, at: target)
        var revelations = [Revelation]()
        for entry in proof.entries ?? [] {
            revelations += Reveal.open(line: Array(entry.line.utf8), index: entry.index, records: records, key: key)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for r in revelations { print(String(decoding: try encoder.encode(r), as: UTF8.self)) }
        if let output = out.output {
            try FileIO.writeAtomically(path: output, bytes: try proof.encoded())
        }
        let proved = revelations.filter { $0.status == "proved" }.count
        Console.standardError.write(Data("auditseal: \(proved) of \(revelations.count) redacted value(s) in \(all.count) event(s) proved; inclusion proof to checkpoint \(target.sequence)\(out.output.map { " in \($0)" } ?? " not written (give -o)")\n".utf8))
        if proved != revelations.count { throw ExitCode(1) }
    }
}
