import FoundationEssentials

/// A self-contained proof (docs/FORMAT.md §10): checked offline with the log's public key and,
/// optionally, witness keys. JSON with sorted keys; hashes are lowercase hex.
public struct ProofFile: Codable, Sendable, Equatable {
    public static let formatName = "auditseal-proof/v1"

    /// One event and its audit path to the checkpoint.
    public struct Entry: Codable, Sendable, Equatable {
        /// The event's index in the chain (its leaf index).
        public var index: UInt64
        /// The stored line, exactly (its UTF-8 bytes are the leaf data).
        public var line: String
        /// RFC 9162 audit path, leaf to root.
        public var auditPath: [String]

        public init(index: UInt64, line: String, auditPath: [String]) {
            self.index = index
            self.line = line
            self.auditPath = auditPath
        }
    }

    public var format: String = ProofFile.formatName
    /// "inclusion" or "consistency".
    public var type: String
    /// Inclusion: the signed checkpoint the paths lead to, with any witness cosignature lines.
    public var checkpoint: String?
    public var entries: [Entry]?
    /// Consistency: the old and the new signed checkpoint, and the RFC 9162 proof between them.
    public var from: String?
    public var to: String?
    public var proof: [String]?

    public init(type: String) { self.type = type }

    public func encoded() throws -> [UInt8] { try StableJSON.encode(self) + [0x0a] }
}

/// Builds proofs from a store's files (read through `StoreTree`).
public struct ProofBuilder {
    public let tree: StoreTree
    let source: StoreSource

    public init(tree: StoreTree, source: StoreSource) {
        self.tree = tree
        self.source = source
    }

    /// The newest checkpoint a proof can lead to: the newest manifest whose tree is sealed.
    public func newestProvable() -> Manifest? {
        tree.manifests.values.filter { $0.treeSize <= tree.sealedSize && $0.treeSize > 0 }.max { $0.sequence < $1.sequence }
    }

    /// The newest checkpoint a proof can lead to that `policy`'s quorum of witnesses cosigned: what
    /// `verify-proof --witness` accepts (the newest sealed one may not be cosigned yet).
    public func newestProvable(witnessedBy policy: WitnessPolicy) -> Manifest? {
        let provable = tree.manifests.values.filter { $0.treeSize <= tree.sealedSize && $0.treeSize > 0 }.sorted { $0.sequence > $1.sequence }
        return provable.first { m in
            guard let text = try? checkpointNote(sequence: m.sequence), let note = try? SignedNote(text) else { return false }
            return policy.cosigners(of: note).count >= policy.quorum
        }
    }

    /// The signed checkpoint of a manifest with every cosignature stored beside it.
    public func checkpointNote(sequence: Int) throws -> String {
        let stem = Manifest.stem(sequence)
        guard let bytes = try source.read("segments/\(stem).checkpoint") else { throw AuditSealError.storage("checkpoint \(stem) is missing") }
        var note = try SignedNote(String(decoding: bytes, as: UTF8.self))
        for name in try source.list("segments") where name.hasPrefix(stem + ".cosignature.") {
            if let lines = try source.read("segments/" + name) {
                note.add(String(decoding: lines, as: UTF8.self).split(separator: "\n").map(String.init))
            }
        }
        return note.text
    }

    /// An inclusion proof of events (indexes) in the tree of `manifest`.
    public func inclusion(indexes: [UInt64], at manifest: Manifest) throws -> ProofFile {
        tree.useFrontier(of: manifest)
        var file = ProofFile(type: "inclusion")
        file.checkpoint = try checkpointNote(sequence: manifest.sequence)
        var entries = [ProofFile.Entry]()
        for index in indexes {
            guard index < manifest.treeSize else { throw AuditSealError(.usage, "event \(index) is not in the tree of size \(manifest.treeSize)") }
            let line = try tree.line(index)
            guard let text = String(validating: line, as: UTF8.self) else { throw AuditSealError.storage("event \(index) is not valid UTF-8 and cannot be written into a JSON proof") }
            let path = try MerkleProof.inclusionPath(index: index, size: manifest.treeSize, hash: tree.hash)
            entries.append(.init(index: index, line: text, auditPath: path.map(\.hex)))
        }
        file.entries = entries
        return file
    }

    /// A consistency proof from the tree of `old` to the tree of `new`.
    public func consistency(from old: Manifest, to new: Manifest) throws -> ProofFile {
        tree.useFrontier(of: old)
        tree.useFrontier(of: new)
        var file = ProofFile(type: "consistency")
        file.from = try checkpointNote(sequence: old.sequence)
        file.to = try checkpointNote(sequence: new.sequence)
        file.proof = try MerkleProof.consistencyProof(from: old.treeSize, to: new.treeSize, hash: tree.hash).map(\.hex)
        return file
    }

    /// Events whose stored line has this auditID (and stage, when given), searching the segments
    /// the filter allows, oldest first.
    public func find(auditID: String, stage: String?, in segments: [StoreTree.Segment]) throws -> [UInt64] {
        let needle = "\"auditID\":\"\(auditID)\""
        var out = [UInt64]()
        for seg in segments {
            let lines = try tree.segmentLines(seg, through: nil)
            for (i, range) in lines.lines.enumerated() where Self.contains(lines.data, range, needle) {
                guard let batch = try? EventScanner(mode: .stream).scan(Array(lines.data[range])), batch.count == 1,
                      batch.auditID(0) == auditID, stage == nil || batch.stage(0) == stage else { continue }
                out.append(seg.first + UInt64(i))
            }
        }
        return out
    }

    static func contains(_ data: [UInt8], _ range: Range<Int>, _ needle: String) -> Bool {
        data.withUnsafeBytes { EventFilter.contains(UnsafeRawBufferPointer(rebasing: $0[range]), needle) }
    }
}

/// Checks a proof file offline.
public enum ProofVerifier {
    /// The outcome: problems (empty when the proof holds) and what was established.
    public struct Result: Sendable {
        public var problems: [String] = []
        public var facts: [String] = []
        public var holds: Bool { problems.isEmpty }
    }

    public static func verify(_ file: ProofFile, logKeys: [Ed25519PublicKey], policy: WitnessPolicy?) -> Result {
        var result = Result()
        let sha = SHA256()
        guard file.format == ProofFile.formatName else {
            result.problems.append("format is \(file.format), not \(ProofFile.formatName)")
            return result
        }
        func open(_ note: String?, _ what: String) -> Checkpoint? {
            guard let note else { result.problems.append("the proof has no \(what) checkpoint"); return nil }
            do {
                let (checkpoint, key) = try Checkpoint.open(note: note, keys: logKeys)
                result.facts.append("\(what) checkpoint: \(checkpoint.origin) size \(checkpoint.treeSize), signed by key \(key.keyID.prefix(16))…")
                if let policy { checkWitnesses(note, policy: policy, what: what, required: what != "old", result: &result) }
                return checkpoint
            } catch {
                result.problems.append("\(what) checkpoint: \(error)")
                return nil
            }
        }
        switch file.type {
        case "inclusion":
            guard let checkpoint = open(file.checkpoint, "the") else { return result }
            guard let entries = file.entries, !entries.isEmpty else {
                result.problems.append("an inclusion proof lists no events")
                return result
            }
            for entry in entries {
                let path = entry.auditPath.compactMap(SHA256Digest.init(hex:))
                guard path.count == entry.auditPath.count else {
                    result.problems.append("event \(entry.index): the audit path holds something that is not a hex SHA-256 hash")
                    continue
                }
                let leaf = Array(entry.line.utf8).withUnsafeBytes { MerkleHash.leaf($0, using: sha) }
                do {
                    try MerkleProof.verifyInclusion(index: entry.index, size: checkpoint.treeSize, leaf: leaf, path: path, root: checkpoint.rootHash, using: sha)
                    var what = "event \(entry.index)"
                    if let batch = try? EventScanner(mode: .stream).scan(Array(entry.line.utf8)), batch.count == 1 {
                        what += " (auditID \(batch.auditID(0)), stage \(batch.stage(0)))"
                    }
                    result.facts.append("\(what) is in the log at tree size \(checkpoint.treeSize)")
                } catch {
                    result.problems.append("event \(entry.index): \(error)")
                }
            }
        case "consistency":
            let old = open(file.from, "old")
            let new = open(file.to, "new")
            guard let old, let new else { return result }
            guard old.origin == new.origin else {
                result.problems.append("the checkpoints are of different logs (\(old.origin), \(new.origin))")
                return result
            }
            let proof = (file.proof ?? []).compactMap(SHA256Digest.init(hex:))
            guard proof.count == (file.proof ?? []).count else {
                result.problems.append("the proof holds something that is not a hex SHA-256 hash")
                return result
            }
            do {
                try MerkleProof.verifyConsistency(from: old.treeSize, to: new.treeSize, root1: old.rootHash, root2: new.rootHash, proof: proof, using: sha)
                result.facts.append("the tree of size \(new.treeSize) extends the tree of size \(old.treeSize) (append-only)")
            } catch {
                result.problems.append("consistency: \(error)")
            }
        default:
            result.problems.append("unknown proof type \(file.type)")
        }
        return result
    }

    static func checkWitnesses(_ text: String, policy: WitnessPolicy, what: String, required: Bool, result: inout Result) {
        guard let note = try? SignedNote(text) else { return }
        for line in policy.invalidLines(of: note) { result.problems.append("\(what) checkpoint: a cosignature does not verify: \(line)") }
        let cosigners = policy.cosigners(of: note)
        result.facts.append("\(what) checkpoint cosigned by \(cosigners.count) of \(policy.witnesses.count) witness(es)\(cosigners.isEmpty ? "" : ": " + cosigners.joined(separator: ", "))")
        if required && cosigners.count < policy.quorum {
            result.problems.append("\(what) checkpoint has \(cosigners.count) valid witness cosignature(s), fewer than the quorum of \(policy.quorum)")
        }
    }
}
