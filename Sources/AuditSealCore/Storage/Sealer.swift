import FoundationEssentials
import Glibc

/// The tip of the manifest chain, as the sealer needs it to write the next manifest.
public struct ManifestTip: Sendable {
    /// The latest manifest's sequence (0 before the first).
    public var sequence: Int
    /// SHA-256 of the latest manifest's bytes (nil before the first).
    public var manifestSHA256: String?
    /// Chain state after the last *sealed* event.
    public var sealed: ChainState
    /// When the latest manifest was written.
    public var sealedAt: Date?
    /// Whether the latest manifest is a closing one ("nothing more is due").
    public var closing: Bool = false
    /// The tree size the latest manifest commits to (a heartbeat's covers the write-ahead tail too).
    public var committedTreeSize: UInt64 = 0
}

/// Seals closed write-ahead segments into gzip JSON-lines files with signed manifests and
/// checkpoints, and writes heartbeat manifests (docs/FORMAT.md, "Sealing").
public final class Sealer: @unchecked Sendable {  // used on the sealer thread alone (its key is replaced there); the store hands it jobs
    let layout: StoreLayout
    let configuration: StoreConfiguration
    /// The signing key; replaced only by `handOver(to:after:durable:)`, on the sealer's thread.
    private(set) var key: Ed25519PrivateKey
    let identity: ChainIdentity
    private let sha = SHA256()

    public init(layout: StoreLayout, configuration: StoreConfiguration, key: Ed25519PrivateKey, identity: ChainIdentity) {
        self.layout = layout
        self.configuration = configuration
        self.key = key
        self.identity = identity
    }

    /// Seals one closed write-ahead segment that continues `tip`; returns the new tip.
    /// The write-ahead file is removed only once the manifest is durable.
    /// `knownLeaves`, when given, are the leaf hashes the committer computed for this segment's
    /// events; records are then matched against them instead of being hashed again.
    /// `recordLimit`: seal only that many records (a segment abandoned after a failed write).
    public func seal(walPath: String, knownLeaves: [SHA256Digest]? = nil, recordLimit: Int? = nil, after tip: ManifestTip, closing: Bool, now: Date = Date()) throws -> ManifestTip {
        let sequence = tip.sequence + 1
        let gzPath = layout.segmentPath(sequence)
        let temp = gzPath + ".tmp"
        _ = unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AuditSealError.io("cannot create \(temp)", errno: errno) }
        var closed = false
        defer { if !closed { close(fd); _ = unlink(temp) } }

        let compressor = try GzipCompressor(level: configuration.gzipLevel)
        let fileHash = SHA256()
        fileHash.begin()
        var fileSize = 0
        var synced = 0
        var pending = [UInt8]()
        pending.reserveCapacity(1 << 20)
        func flush() throws {
            try pending.withUnsafeBytes { p in
                fileHash.update(p)
                try FileIO.writeAll(fd: fd, p, path: temp)
            }
            fileSize += pending.count
            pending.removeAll(keepingCapacity: true)
            // Write back as we go: a large dirty file flushed at once would stall the write-ahead
            // segment's fsyncs (and so the receiver's answers) behind it.
            if fileSize - synced >= 8 << 20 {
                try FileIO.sync(fd: fd, path: temp)
                synced = fileSize
            }
        }
        let sink: (UnsafeRawBufferPointer) throws -> Void = { chunk in
            pending.append(contentsOf: chunk)
            if pending.count >= 1 << 20 { try flush() }
        }

        var state = tip.sealed
        var nodes = TreeNodes.Collector()
        var times = EventTimeRange()
        var hints = [UInt8]()
        var firstLine: [UInt8]?
        var lastLine = [UInt8]()
        let newline: [UInt8] = [0x0a]
        let outcome = try WriteAheadReader(path: walPath).read(knownLeaves: knownLeaves, mapped: true, recordLimit: recordLimit ?? knownLeaves?.count) { index, line, leaf in
            state.append(leaf: leaf, using: sha, nodes: &nodes)
            times.add(line)
            leaf.withUnsafeBytes { hints.append(contentsOf: $0.prefix(8)) }
            try compressor.compress(line, sink: sink)
            try newline.withUnsafeBytes { try compressor.compress($0, sink: sink) }
            if firstLine == nil { firstLine = Array(line) }
            lastLine.removeAll(keepingCapacity: true)
            lastLine.append(contentsOf: line)
        }
        if let knownLeaves, knownLeaves.count != outcome.recordCount || outcome.damage != nil {
            throw AuditSealError.storage("\(walPath) holds \(outcome.recordCount) readable records but \(knownLeaves.count) were committed\(outcome.damage.map { " (\($0))" } ?? "")")
        }
        guard outcome.header.firstIndex == tip.sealed.nextIndex,
              outcome.header.chainHashBefore == tip.sealed.head.hex else {
            throw AuditSealError.storage("\(walPath) does not continue the sealed chain (starts at index \(outcome.header.firstIndex), sealed chain ends before \(tip.sealed.nextIndex))")
        }
        // A seal that fails before its manifest is durable leaves no file of its sequence behind:
        // the write-ahead segment still holds its events and is sealed again (docs/FORMAT.md §3.1).
        var published = false
        defer { if !published { removeUnpublished(sequence, gzPath: gzPath) } }
        try compressor.finish(sink: sink)
        try flush()
        try FileIO.sync(fd: fd, path: temp)
        _ = fchmod(fd, 0o444)
        close(fd)
        closed = true
        try FileIO.rename(from: temp, to: gzPath)

        let hintsPath = layout.leafHintsPath(sequence)
        try FileIO.writeAtomically(path: hintsPath, bytes: hints, mode: 0o444)
        let nodesPath = layout.treeNodesPath(sequence)
        try FileIO.writeAtomically(path: nodesPath, bytes: nodes.bytes, mode: 0o444)

        let count = outcome.recordCount
        var manifest = baseManifest(type: "segment", sequence: sequence, tip: tip, state: state, closing: closing, now: now)
        manifest.file = PathName.last(gzPath)
        manifest.fileSize = fileSize
        manifest.fileSHA256 = fileHash.finish().hex
        manifest.leafHintsFile = PathName.last(hintsPath)
        manifest.leafHintsSHA256 = SHA256.digest(hints).hex
        manifest.treeNodesFile = PathName.last(nodesPath)
        manifest.treeNodesSHA256 = SHA256.digest(nodes.bytes).hex
        manifest.eventCount = count
        manifest.firstIndex = count > 0 ? outcome.header.firstIndex : nil
        manifest.lastIndex = count > 0 ? outcome.header.firstIndex + UInt64(count) - 1 : nil
        manifest.firstEventTime = firstLine.flatMap(Self.stageTimestamp)
        manifest.lastEventTime = count > 0 ? Self.stageTimestamp(lastLine) : nil
        manifest.minEventTime = times.min
        manifest.maxEventTime = times.max
        manifest.backfilled = outcome.backfilled.isEmpty ? nil : outcome.backfilled.pairs
        let newTip = try publish(manifest, state: state, now: now)
        published = true
        // The seal is complete with its manifest: removing the write-ahead segment is cleanup. If
        // the directory fsync fails, a power cut may bring the file back, and recovery removes it
        // as sealed (failing the seal here would retry a segment that is gone, forever).
        _ = unlink(walPath)
        try? FileIO.syncDirectory(layout.walDirectory)
        return newTip
    }

    /// Writes a heartbeat manifest committing to `durable` (which may include events not yet sealed).
    public func heartbeat(after tip: ManifestTip, durable: ChainState, closing: Bool, now: Date = Date()) throws -> ManifestTip {
        let manifest = baseManifest(type: "heartbeat", sequence: tip.sequence + 1, tip: tip, state: durable, closing: closing, now: now)
        var newTip = try publish(manifest, state: durable, now: now)
        newTip.sealed = tip.sealed
        return newTip
    }

    /// Key rotation: a heartbeat signed by the current key that names `next` as the key of every
    /// later manifest, then `next` signs from here on. Returns the new tip.
    public func handOver(to next: Ed25519PrivateKey, after tip: ManifestTip, durable: ChainState, now: Date = Date()) throws -> ManifestTip {
        var manifest = baseManifest(type: "heartbeat", sequence: tip.sequence + 1, tip: tip, state: durable, closing: false, now: now)
        manifest.nextKeyID = next.publicKey.keyID
        var newTip = try publish(manifest, state: durable, now: now)
        newTip.sealed = tip.sealed
        key = next
        return newTip
    }

    private func baseManifest(type: String, sequence: Int, tip: ManifestTip, state: ChainState, closing: Bool, now: Date) -> Manifest {
        Manifest(
            format: Manifest.formatName, type: type, chainID: identity.chainID, node: identity.node, sequence: sequence,
            file: nil, fileSize: nil, fileSHA256: nil, leafHintsFile: nil, leafHintsSHA256: nil,
            eventCount: 0, firstIndex: nil, lastIndex: nil,
            chainHashBefore: (type == "segment" ? tip.sealed.head : state.head).hex, chainHashAfter: state.head.hex,
            treeSize: state.tree.size, treeRoot: state.tree.root(using: sha).hex,
            treeFrontier: state.tree.hashes.map(\.hex),
            firstEventTime: nil, lastEventTime: nil, previousManifestSHA256: tip.manifestSHA256,
            sealedAt: Timestamp.format(now), heartbeatIntervalSeconds: Int(configuration.heartbeatInterval),
            closing: closing, keyID: key.publicKey.keyID)
    }

    /// Removes the files of a sequence whose manifest was not written (best effort).
    private func removeUnpublished(_ sequence: Int, gzPath: String?) {
        guard !FileIO.exists(layout.manifestPath(sequence)) else { return }
        for path in [gzPath, layout.leafHintsPath(sequence), layout.treeNodesPath(sequence),
                     layout.checkpointPath(sequence), layout.signaturePath(sequence)].compactMap({ $0 }) {
            _ = unlink(path)
        }
        try? FileIO.syncDirectory(layout.segmentsDirectory)
    }

    /// Writes checkpoint, signature and manifest (the manifest last: its presence marks the seal complete).
    private func publish(_ manifest: Manifest, state: ChainState, now: Date) throws -> ManifestTip {
        let bytes = try StableJSON.encode(manifest) + [0x0a]
        let signature = try key.signature(for: bytes)
        let checkpoint = Checkpoint(origin: Checkpoint.origin(node: identity.node, chainID: identity.chainID),
                                    treeSize: state.tree.size, rootHash: state.tree.root(using: sha))
        do {
            try FileIO.writeAtomically(path: layout.checkpointPath(manifest.sequence), bytes: Array(try checkpoint.signedNote(with: key).utf8), mode: 0o444)
            try FileIO.writeAtomically(path: layout.signaturePath(manifest.sequence), bytes: Array((Base64.encode(signature) + "\n").utf8), mode: 0o444)
            try FileIO.writeAtomically(path: layout.manifestPath(manifest.sequence), bytes: bytes, mode: 0o444)
        } catch {
            if manifest.type != "segment" { removeUnpublished(manifest.sequence, gzPath: nil) }
            throw error
        }
        return ManifestTip(sequence: manifest.sequence, manifestSHA256: SHA256.digest(bytes).hex, sealed: state, sealedAt: now, closing: manifest.closing, committedTreeSize: manifest.treeSize)
    }

    /// The stageTimestamp of one stored line, if it has one.
    static func stageTimestamp(_ line: [UInt8]) -> String? {
        guard let batch = try? EventScanner(mode: .stream).scan(line), batch.count == 1 else { return nil }
        return batch.stageTimestamp(0)
    }
}
