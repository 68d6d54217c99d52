import ArgumentParser
import AuditSealCore
import AuditSealShipping
import FoundationEssentials

/// `auditseal prove`: an inclusion proof of events, for an auditor who does not get the whole log.
struct Prove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a self-contained inclusion proof of events (by auditID or index) to the newest sealed checkpoint.",
        discussion: """
            The proof holds each stored line, its index, its RFC 9162 audit path, and the signed checkpoint with every \
            witness cosignature stored beside it. Check it offline with `auditseal verify-proof`. Reads the manifests, \
            the tree-node indexes it needs and the segment(s) holding the events; --audit-id searches segments (narrow \
            it with --around TIME to those whose event times cover TIME).
            """)

    @Argument(help: "The data directory, or s3://BUCKET/PREFIX (one store, or give --node).")
    var store: String

    @Option(help: "The auditID of the events to prove (every stage found, unless --stage).")
    var auditId: String?

    @Option(help: "Only this stage (e.g. ResponseComplete).")
    var stage: String?

    @Option(name: .customLong("index"), help: "An event index to prove; repeatable.")
    var indexes: [UInt64] = []

    @Option(help: "With --audit-id: search only segments whose first/last event times cover this RFC 3339 time.")
    var around: String?

    @Option(help: "Prove to this manifest's checkpoint (sequence number) instead of the newest sealed one.")
    var checkpoint: Int?

    @OptionGroup var out: ProofOutputOptions

    @OptionGroup(title: "Witnesses: without --checkpoint, prove to the newest checkpoint these cosigned (what verify-proof --witness accepts)")
    var witnesses: WitnessOptions

    func run() async throws {
        let policy = try witnesses.policy()
        guard auditId != nil || !indexes.isEmpty else { throw ValidationError("give --audit-id or --index") }
        let aroundDate = try around.map { text -> Date in
            guard let d = Timestamp.parse(text) else { throw ValidationError("--around must be an RFC 3339 time") }
            return d
        }
        func candidates(_ tree: StoreTree) -> [StoreTree.Segment] {
            guard let aroundDate else { return tree.segments }
            return tree.segments.filter { seg in
                guard let m = tree.manifests[seg.sequence] else { return true }
                return Self.aroundWindow(aroundDate).mayMatch(m)
            }
        }
        let store = try await out.open(self.store) { tree, source in
            guard let target = try target(tree, source, policy) else { return [] }
            tree.useFrontier(of: target)
            var files = indexes.isEmpty ? candidates(tree).map(\.file) : []
            let ranges = indexes.flatMap { ProofPlan.inclusion(index: $0, size: target.treeSize) }
            files += tree.files(for: ranges, lines: indexes)
            return files
        }
        let builder = ProofBuilder(tree: store.tree, source: store.source)
        guard let target = try target(store.tree, store.source, policy) else {
            throw ValidationError(policy == nil ? "the store has no sealed checkpoint to prove against"
                                  : "no sealed checkpoint is cosigned by \(policy!.quorum) of the --witness keys yet (witnesses cosign within witnessIntervalSeconds of a seal)")
        }
        var all = indexes
        if let auditId {
            let searched = candidates(store.tree).filter { $0.first < target.treeSize }
            let found = try builder.find(auditID: auditId, stage: stage, in: searched)
            if found.isEmpty {
                // Say what was searched: a miss in a narrowed search is not a proof of absence.
                let scope = aroundDate.map { d -> String in
                    let w = Self.aroundWindow(d)
                    return "the \(searched.count) of \(store.tree.segments.count) sealed segment(s) whose event times cover \(Timestamp.format(w.since!))...\(Timestamp.format(w.until!)) (--around; drop it to search them all)"
                } ?? "all \(searched.count) sealed segment(s) up to checkpoint \(target.sequence) (tree size \(target.treeSize)); events still in the write-ahead log are not sealed yet"
                Console.standardError.write(Data("auditseal: no sealed event with auditID \(auditId)\(stage.map { " and stage \($0)" } ?? "") in \(self.store): searched \(scope)\n".utf8))
                throw ExitCode(1)
            }
            all += found
        }
        let proof = try builder.inclusion(indexes: all, at: target)
        try out.write(proof)
        Console.standardError.write(Data("auditseal: proof of \(all.count) event(s) to checkpoint \(target.sequence) (tree size \(target.treeSize)); \(store.tree.segmentsRead.count) segment(s) decompressed\n".utf8))
    }

    /// The time window of `--around T`: the whole second T names (a time cut to the second, as
    /// `cat -o table` prints it, covers every event stamped within that second).
    static func aroundWindow(_ date: Date) -> EventFilter {
        var window = EventFilter()
        let second = date.timeIntervalSince1970.rounded(.down)
        window.since = Date(timeIntervalSince1970: second)
        window.until = Date(timeIntervalSince1970: second + 1)
        return window
    }

    func target(_ tree: StoreTree, _ source: StoreSource, _ policy: WitnessPolicy?) throws -> Manifest? {
        if let checkpoint {
            guard let m = tree.manifests[checkpoint] else { throw ValidationError("no manifest with sequence \(checkpoint)") }
            guard m.treeSize <= tree.sealedSize else { throw ValidationError("checkpoint \(checkpoint) covers events not sealed yet") }
            return m
        }
        let builder = ProofBuilder(tree: tree, source: source)
        return policy.map { builder.newestProvable(witnessedBy: $0) } ?? builder.newestProvable()
    }
}

/// `auditseal consistency`: proves that a newer checkpoint extends an older one.
struct Consistency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an RFC 9162 consistency proof between two checkpoints of a store (append-only growth).",
        discussion: "OLD and NEW are a checkpoint file (a signed note, e.g. one kept from earlier) or a manifest sequence number. Without --to, the newest sealed checkpoint.")

    @Argument(help: "The data directory, or s3://BUCKET/PREFIX.")
    var store: String

    @Option(help: "The old checkpoint: a checkpoint file or a sequence number.")
    var from: String

    @Option(help: "The new checkpoint: a checkpoint file or a sequence number (default: the newest sealed).")
    var to: String?

    @OptionGroup var out: ProofOutputOptions

    func run() async throws {
        let store = try await out.open(self.store) { tree, _ in
            let (old, new) = try ends(tree)
            tree.useFrontier(of: old)
            tree.useFrontier(of: new)
            return tree.files(for: ProofPlan.consistency(from: old.treeSize, to: new.treeSize))
        }
        let (old, new) = try ends(store.tree)
        let proof = try ProofBuilder(tree: store.tree, source: store.source).consistency(from: old, to: new)
        try out.write(proof)
    }

    func ends(_ tree: StoreTree) throws -> (Manifest, Manifest) {
        func resolve(_ text: String) throws -> Manifest {
            if let sequence = Int(text) {
                guard let m = tree.manifests[sequence] else { throw ValidationError("no manifest with sequence \(sequence)") }
                return m
            }
            guard FileIO.exists(text), let note = String(validating: try FileIO.readAll(path: text), as: UTF8.self),
                  let body = try? SignedNote(note).body else { throw ValidationError("\(text) is neither a sequence number nor a checkpoint file") }
            let lines = body.split(separator: "\n")
            guard lines.count >= 3, let size = UInt64(lines[1]), let root = Base64.decode(String(lines[2])).flatMap({ SHA256Digest(bytes: $0) }) else {
                throw ValidationError("\(text) is not a checkpoint")
            }
            // The store's manifest of that size and root: its frontier is the proof's old edge.
            guard let m = tree.manifests.values.filter({ $0.treeSize == size && $0.treeRoot == root.hex }).min(by: { $0.sequence < $1.sequence }) else {
                Console.standardError.write(Data("auditseal: no checkpoint of this store has size \(size) and root \(root.hex): the store does not extend \(text) (a fork or a rewritten history)\n".utf8))
                throw ExitCode(1)
            }
            return m
        }
        let old = try resolve(from)
        let new: Manifest
        if let to { new = try resolve(to) } else {
            guard let m = ProofBuilder(tree: tree, source: DirectorySource(root: "/nonexistent")).newestProvable() else { throw ValidationError("no sealed checkpoint") }
            new = m
        }
        guard old.treeSize <= new.treeSize else { throw ValidationError("the old checkpoint (size \(old.treeSize)) is larger than the new one (\(new.treeSize))") }
        guard new.treeSize <= tree.sealedSize else { throw ValidationError("checkpoint \(new.sequence) covers events not sealed yet") }
        return (old, new)
    }
}

/// `auditseal verify-proof`: checks a proof file offline.
struct VerifyProof: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-proof",
        abstract: "Check an inclusion or consistency proof offline against the log's public key (and witness keys). Exit 0 holds, 1 fails, 2 unreadable.")

    @Argument(help: "The proof file (from prove or consistency).")
    var file: String

    @Option(name: .customLong("public-key"), help: "The log's Ed25519 public key (PEM); repeat for rotated keys.")
    var publicKeys: [String]

    @OptionGroup(title: "Witnesses") var witnesses: WitnessOptions

    func run() async throws {
        let keys = try publicKeys.map(KeyFiles.loadPublicKey(path:))
        let policy = try witnesses.policy()
        let proof: ProofFile
        do { proof = try JSONDecoder().decode(ProofFile.self, from: Data(try FileIO.readAll(path: file))) } catch {
            Console.standardError.write(Data("auditseal: \(file) is not a proof file: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let result = ProofVerifier.verify(proof, logKeys: keys, policy: policy)
        for fact in result.facts { print("ok: \(fact)") }
        for problem in result.problems { print("FAILED: \(problem)") }
        print(result.holds ? "PROOF HOLDS" : "PROOF FAILS")
        if !result.holds { throw ExitCode(1) }
    }
}
