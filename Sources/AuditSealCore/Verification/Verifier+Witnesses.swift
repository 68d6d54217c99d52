import FoundationEssentials

extension Verifier {
    /// Witness cosignatures (C2SP tlog-cosignature) stored beside the checkpoints: every one by a
    /// configured witness must verify, and the chain must be cosigned by a quorum up to its newest
    /// checkpoint (give or take the grace period). A store rewritten with a stolen signing key
    /// cannot carry valid cosignatures past the point where it forks from what witnesses saw.
    func checkWitnesses(_ trusted: [LoadedManifest], policy: WitnessPolicy, report: inout VerificationReport) {
        let names = (try? source.list("segments")) ?? []
        var cosignatureFiles = [String: [String]]()  // stem -> file names
        for name in names where name.contains(".cosignature.") {
            cosignatureFiles[String(name.prefix { $0 != "." }), default: []].append(name)
        }
        var lastWitnessed: LoadedManifest?
        for loaded in trusted {
            let stem = Manifest.stem(loaded.sequence)
            guard let bytes = try? source.read("segments/\(stem).checkpoint"),
                  var note = try? SignedNote(String(decoding: bytes, as: UTF8.self)) else { continue }
            for name in cosignatureFiles[stem] ?? [] {
                if let raw = try? source.read("segments/" + name) {
                    note.add(String(decoding: raw, as: UTF8.self).split(separator: "\n").map(String.init))
                }
            }
            for line in policy.invalidLines(of: note) {
                report.add(.cosignatureInvalid, "a cosignature by a configured witness does not verify for this checkpoint (a forged or rewritten checkpoint?): \(line.prefix(80))",
                           file: "segments/\(stem).checkpoint", sequence: loaded.sequence)
            }
            if policy.cosigners(of: note).count >= policy.quorum { lastWitnessed = loaded }
        }
        report.witnessedTreeSize = lastWitnessed?.manifest.treeSize
        guard let newest = trusted.last else { return }
        let newestAt = Timestamp.parse(newest.manifest.sealedAt)
        let unwitnessed = trusted.filter { loaded in
            guard loaded.sequence > (lastWitnessed?.sequence ?? 0) else { return false }
            // A checkpoint no larger than a witnessed one is covered by it.
            if let w = lastWitnessed, loaded.manifest.treeSize <= w.manifest.treeSize { return false }
            guard let at = Timestamp.parse(loaded.manifest.sealedAt), let newestAt else { return true }
            return newestAt.timeIntervalSince(at) >= options.witnessGraceSeconds || options.witnessGraceSeconds == 0
        }
        if let first = unwitnessed.first, let last = unwitnessed.last {
            let base = lastWitnessed.map { "the last checkpoint cosigned by \(policy.quorum) witness(es) is sequence \($0.sequence) (tree size \($0.manifest.treeSize))" }
                ?? "no checkpoint is cosigned by \(policy.quorum) witness(es)"
            report.add(.notWitnessed, "\(unwitnessed.count) checkpoint(s), sequences \(first.sequence)...\(last.sequence) up to tree size \(last.manifest.treeSize), lack a quorum of witness cosignatures; \(base). Until witnesses cosign them, nothing shows they are the history the witnesses saw",
                       file: "segments/" + first.fileName, sequence: first.sequence)
        }
    }
}
