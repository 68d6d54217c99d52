#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// What opening a data directory found and repaired.
struct RecoveredStore {
    var identity: ChainIdentity
    var tip: ManifestTip
    var closedSegments: [String]
    var active: ActiveSegment
    var durable: ChainState
    var duplicates: DuplicateFilter
    var notes: [String]
}

/// Brings a data directory back to a consistent state after any stop, clean or not: it finds the
/// latest manifest, replays every write-ahead segment after it, cuts only a torn or corrupt tail
/// (keeping the cut bytes beside the segment as evidence) and rebuilds the duplicate window.
enum Recovery {
    static func recover(layout: StoreLayout, configuration: StoreConfiguration) throws -> RecoveredStore {
        let sha = SHA256()
        for dir in [layout.root, layout.walDirectory, layout.segmentsDirectory, layout.keysDirectory] {
            try FileIO.makeDirectories(dir)
        }
        let identity = try loadOrCreateIdentity(layout: layout, configuration: configuration)
        guard let chainID = Hex.decode(identity.chainID), chainID.count == 16 else {
            throw AuditSealError.storage("\(layout.chainFile) has an invalid chainID")
        }
        var notes = [String]()
        let tip = try latestTip(layout: layout, chainID: chainID, sha: sha)
        var state = tip.sealed
        var duplicates = DuplicateFilter(capacity: configuration.duplicateWindow)
        try rememberSealedEvents(layout: layout, tip: tip, into: &duplicates)

        // A segment still under its temporary name never received a record.
        // The segment pipeline's spare (empty, made ahead of a cut) is removed without a note.
        for name in try FileIO.list(layout.walDirectory) where name.hasSuffix(".wal.tmp") {
            _ = unlink(layout.walDirectory + "/" + name)
            if name != SegmentPipeline.spareName { notes.append("removed \(name): a segment whose creation was interrupted") }
        }
        var closed = [String]()
        var last: (path: String, outcome: WriteAheadReader.Outcome)?
        var walPaths = try layout.walPaths()
        // The last segment may hold no record and start inside its predecessor's records: its
        // creation failed after the rename (the directory fsync), and appends went on in the
        // predecessor. It is removed; the predecessor's records are the chain.
        if walPaths.count >= 2 {
            let last = try WriteAheadReader(path: walPaths[walPaths.count - 1]).read { _, _, _ in }
            let before = try WriteAheadReader(path: walPaths[walPaths.count - 2]).read { _, _, _ in }
            if last.recordCount == 0, last.header.firstIndex < before.header.firstIndex + UInt64(before.recordCount) {
                _ = unlink(walPaths[walPaths.count - 1])
                try FileIO.syncDirectory(layout.walDirectory)
                notes.append("removed \(walPaths[walPaths.count - 1]): an empty write-ahead segment whose creation failed; appends went on in the one before")
                walPaths.removeLast()
            }
        }
        // Where each segment's successor starts: records at or past it in a segment were written
        // after a failed write, never acknowledged, and the store went on in the next file.
        let starts = try walPaths.map { try WriteAheadReader(path: $0).read(recordLimit: 0) { _, _, _ in }.header.firstIndex }
        for (position, path) in walPaths.enumerated() {
            var lines = [(SHA256Digest, [UInt8])]()
            let successor = position + 1 < starts.count ? starts[position + 1] : nil
            let limit = successor.map { Int(clamping: $0 &- starts[position]) }
            var outcome = try WriteAheadReader(path: path).read(recordLimit: limit) { _, line, leaf in lines.append((leaf, Array(line))) }
            if let limit, outcome.recordCount == limit, outcome.damage == nil, let size = FileIO.size(path), size > outcome.validLength {
                outcome.damage = .truncatedRecord(offset: outcome.validLength)
                notes.append("\(path) goes on past the start of the next write-ahead segment: the tail of a failed write, never acknowledged")
            }
            let end = outcome.header.firstIndex + UInt64(outcome.recordCount)
            if outcome.header.firstIndex < state.nextIndex {
                guard end <= tip.sealed.nextIndex else {
                    throw AuditSealError.storage("\(path) overlaps sealed events (starts at \(outcome.header.firstIndex), sealed up to \(tip.sealed.nextIndex)); refusing to guess")
                }
                // Sealed already; the crash came between manifest and removal.
                _ = unlink(path)
                notes.append("removed \(path): its events were already sealed")
                continue
            }
            guard outcome.header.firstIndex == state.nextIndex, outcome.header.chainHashBefore == state.head.hex,
                  outcome.header.chainID == identity.chainID else {
                throw AuditSealError.storage("\(path) does not continue the chain (expected index \(state.nextIndex) after \(state.head.hex)); refusing to start")
            }
            if let damage = outcome.damage {
                try cutTail(path: path, at: outcome.validLength, damage: damage)
                notes.append("cut \(path) at byte \(outcome.validLength) (\(damage)); the cut bytes are kept in \(path).broken-\(outcome.validLength)")
            }
            for (leaf, line) in lines {
                state.append(leaf: leaf, using: sha)
                if let key = Self.duplicateKey(line: line) { if !duplicates.contains(key) { duplicates.insert(key) } }
            }
            if let previous = last { closed.append(previous.path) }
            last = (path, outcome)
        }
        let active: ActiveSegment
        if let last, last.outcome.validLength >= 0 {
            active = try ActiveSegment.reopen(path: last.path, firstIndex: last.outcome.header.firstIndex,
                                              validLength: last.outcome.validLength, eventCount: last.outcome.recordCount)
        } else {
            active = try ActiveSegment.create(layout: layout, state: state, chainID: identity.chainID)
        }
        return RecoveredStore(identity: identity, tip: tip, closedSegments: closed, active: active, durable: state,
                              duplicates: duplicates, notes: notes)
    }

    /// The (auditID, stage) key of one stored line.
    static func duplicateKey(line: [UInt8]) -> DuplicateFilter.Key? {
        guard let batch = try? EventScanner(mode: .stream).scan(line), batch.count == 1 else { return nil }
        return batch.duplicateKey(0)
    }

    private static func cutTail(path: String, at length: Int, damage: WriteAheadDamage) throws {
        let bytes = try FileIO.readAll(path: path)
        if bytes.count > length {
            try FileIO.writeAtomically(path: "\(path).broken-\(length)", bytes: Array(bytes[length...]), mode: 0o440)
        }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw AuditSealError.io("cannot truncate \(path)", errno: errno) }
        try FileIO.sync(fd: fd, path: path)
    }

    private static func loadOrCreateIdentity(layout: StoreLayout, configuration: StoreConfiguration) throws -> ChainIdentity {
        if FileIO.exists(layout.chainFile) {
            let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: layout.chainFile))
            guard identity.node == configuration.nodeName else {
                throw AuditSealError.storage("\(layout.root) holds the chain of node \"\(identity.node)\", not \"\(configuration.nodeName)\"; use --node \(identity.node) or another data directory")
            }
            return identity
        }
        guard try layout.manifestSequences().isEmpty, try layout.walPaths().isEmpty else {
            throw AuditSealError.storage("\(layout.chainFile) is missing but the directory holds segments; refusing to start a new chain over them")
        }
        let identity = ChainIdentity(chainID: Hex.encode(SecureRandom.bytes(16)), node: configuration.nodeName,
                                     createdAt: Timestamp.format(Date()))
        try FileIO.writeAtomically(path: layout.chainFile, bytes: try StableJSON.encode(identity) + [0x0a], mode: 0o444)
        return identity
    }

    /// The manifest chain's tip, with the sealed chain state taken from the latest segment manifest.
    static func latestTip(layout: StoreLayout, chainID: [UInt8], sha: SHA256) throws -> ManifestTip {
        let sequences = try layout.manifestSequences()
        guard let latest = sequences.last else {
            return ManifestTip(sequence: 0, manifestSHA256: nil, sealed: ChainState(chainID: chainID, using: sha), sealedAt: nil)
        }
        let (latestManifest, latestBytes) = try manifest(latest, layout: layout)
        var sealed = ChainState(chainID: chainID, using: sha)
        for sequence in sequences.reversed() {
            let manifest = sequence == latest ? latestManifest : try manifest(sequence, layout: layout).manifest
            guard manifest.type == "segment" else { continue }
            sealed = try state(of: manifest, chainID: chainID)
            break
        }
        return ManifestTip(sequence: latest, manifestSHA256: SHA256.digest(latestBytes).hex, sealed: sealed,
                           sealedAt: Timestamp.parse(latestManifest.sealedAt), closing: latestManifest.closing,
                           committedTreeSize: latestManifest.treeSize)
    }

    /// One manifest of the store, decoded and held to the format's structural rules (docs/FORMAT.md
    /// §5) before any field is used: the data directory is input too, and an event count near 2^63
    /// trapped the duplicate window's sum and so the start.
    static func manifest(_ sequence: Int, layout: StoreLayout) throws -> (manifest: Manifest, bytes: [UInt8]) {
        let path = layout.manifestPath(sequence)
        let bytes = try FileIO.readAll(path: path)
        let manifest = try Manifest.decode(bytes)
        if let problem = manifest.structuralProblem(fileSequence: sequence) {
            throw AuditSealError.storage("\(path) breaks the format's rules (\(problem)); refusing to start on it: auditseal verify locates the damage")
        }
        return (manifest, bytes)
    }

    /// The chain state a segment manifest ends with.
    static func state(of manifest: Manifest, chainID: [UInt8]) throws -> ChainState {
        let frontier = manifest.treeFrontier.compactMap(SHA256Digest.init(hex:))
        guard frontier.count == manifest.treeFrontier.count, let head = SHA256Digest(hex: manifest.chainHashAfter),
              let tree = CompactRange(size: manifest.treeSize, hashes: frontier) else {
            throw AuditSealError.storage("manifest \(manifest.sequence) has an invalid chain state")
        }
        return ChainState(chainID: chainID, nextIndex: manifest.treeSize, head: head, tree: tree)
    }

    /// Loads the keys of the newest sealed events (up to the window) into the duplicate filter.
    private static func rememberSealedEvents(layout: StoreLayout, tip: ManifestTip, into filter: inout DuplicateFilter) throws {
        guard filter.capacity > 0 else { return }
        var wanted = [Int]()
        var total = 0
        var sequence = tip.sequence
        while sequence > 0 && total < filter.capacity {
            let manifest = try manifest(sequence, layout: layout).manifest
            if manifest.type == "segment" && manifest.eventCount > 0 {
                wanted.append(sequence)
                total += manifest.eventCount
            }
            sequence -= 1
        }
        for sequence in wanted.reversed() {
            guard let gz = try? FileIO.readAll(path: layout.segmentPath(sequence)) else { continue }
            let whole = SegmentReader.whole(gz)
            guard whole.damage == nil, let batch = try? EventScanner(mode: .stream).scan(whole.data) else { continue }
            for i in 0..<batch.count {
                let key = batch.duplicateKey(i)
                if !filter.contains(key) { filter.insert(key) }
            }
        }
    }
}

extension EventBatch {
    /// The duplicate-window key of event i.
    func duplicateKey(_ i: Int) -> DuplicateFilter.Key {
        let e = events[i]
        return source.withUnsafeBytes { p in
            DuplicateFilter.key(auditID: UnsafeRawBufferPointer(rebasing: p[e.auditID.start..<(e.auditID.start + e.auditID.count)]),
                                stage: UnsafeRawBufferPointer(rebasing: p[e.stage.start..<(e.stage.start + e.stage.count)]))
        }
    }
}
