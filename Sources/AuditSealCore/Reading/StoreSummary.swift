import FoundationEssentials

/// What `auditseal status` shows for one node's chain, from its manifests (not its segments) and,
/// locally, its write-ahead log, shipping ledger and last scheduled verification.
public struct StoreSummary: Codable, Sendable {
    public var store: String
    public var node: String?
    public var chainID: String?
    /// Events committed to: the newest manifest's tree size, plus events only in the write-ahead log.
    public var events: UInt64 = 0
    public var sealedEvents: UInt64 = 0
    public var openEvents: UInt64 = 0
    public var openSegmentBytes: Int = 0
    public var firstEventTime: String?
    public var lastEventTime: String?
    public var segments = 0
    public var heartbeats = 0
    public var lastManifestAt: String?
    public var lastManifestClosing: Bool?
    public var lastHeartbeatAt: String?
    public var keyIDs: [String] = []
    public var lastVerification: LastVerification?
    /// Local stores with a shipping ledger: files sealed and not yet confirmed in the bucket, and
    /// the sealing time of the oldest of them (how far shipping lags).
    public var unshippedFiles: Int?
    public var oldestUnshippedSealedAt: String?
    public var shippingLagSeconds: Double?
    /// With a bucket: segment-folder files only here, only in the bucket, and in both.
    public var localOnly: [String]?
    public var bucketOnly: [String]?
    public var inBoth: Int?
    /// Events marked as backfilled in the manifests (sealed) and in the write-ahead log (open).
    public var backfilledEvents: UInt64 = 0
    /// The receiver's reconciliation record (`reconcile/report.json`), when there is one.
    public var completeness: CompletenessReport?
    /// Manifests left out of this summary because they do not decode or break the structural
    /// rules ("segments/NAME: why"); nil when there are none. Every other figure leaves them out
    /// (`events` is the newest usable manifest's tree size). `auditseal verify` locates the damage.
    public var refusedManifests: [String]?
    /// Forwarding sinks (DATA_DIR/sinks/NAME.cursor): the next index each sends, its lag in events
    /// behind the chain, and how many events it dead-lettered; nil for a store without them.
    public var sinks: [SinkState]?

    public struct SinkState: Codable, Sendable {
        public var name: String
        public var next: UInt64
        public var lag: UInt64
        public var deadLettered: Int
        public var updatedAt: String?
    }

    /// The events only in the write-ahead log (not sealed yet), its bytes, and how many of those
    /// events are marked as backfilled; zero for a store without local files (a bucket).
    public static func openSegment(of source: StoreSource) -> (events: UInt64, bytes: Int, backfilled: UInt64) {
        var open: (events: UInt64, bytes: Int, backfilled: UInt64) = (0, 0, 0)
        for name in ((try? source.list("wal")) ?? []).filter({ $0.hasSuffix(".wal") }) {
            guard let path = source.localPath("wal/" + name) else { continue }
            open.bytes += Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            if let outcome = try? WriteAheadReader(path: path).read({ _, _, _ in }) {
                open.events += UInt64(outcome.recordCount)
                open.backfilled += outcome.backfilled.count
            }
        }
        return open
    }

    /// `shipped`: the store-relative files the shipping ledger records (nil: no ledger).
    public init(source: StoreSource, shipped: Set<String>? = nil, now: Date = Date()) {
        store = source.name
        if let bytes = try? source.read("chain.json"), let identity = try? StableJSON.decode(ChainIdentity.self, from: bytes) {
            node = identity.node
            chainID = identity.chainID
        }
        let read = StoreTree.readManifests(from: source)
        let manifests = read.manifests.sorted { $0.sequence < $1.sequence }
        refusedManifests = read.refused.isEmpty ? nil : read.refused
        var keys = [String]()
        for m in manifests {
            if !keys.contains(m.keyID) { keys.append(m.keyID) }
            if m.type == "segment" {
                segments += 1
                backfilledEvents += BackfilledRanges(pairs: m.backfilled).count
                if m.eventCount > 0 {
                    for t in [m.minEventTime ?? m.firstEventTime].compactMap({ $0 }) where firstEventTime.map({ t < $0 }) ?? true { firstEventTime = t }
                    for t in [m.maxEventTime ?? m.lastEventTime].compactMap({ $0 }) where lastEventTime.map({ t > $0 }) ?? true { lastEventTime = t }
                    sealedEvents = m.treeSize
                }
            } else {
                heartbeats += 1
                lastHeartbeatAt = m.sealedAt
            }
        }
        keyIDs = keys
        if let last = manifests.last {
            lastManifestAt = last.sealedAt
            lastManifestClosing = last.closing
            if node == nil { node = last.node }
            if chainID == nil { chainID = last.chainID }
        }
        events = manifests.last?.treeSize ?? 0
        let open = Self.openSegment(of: source)
        openSegmentBytes = open.bytes
        openEvents = open.events
        backfilledEvents += open.backfilled
        events = max(events, sealedEvents + openEvents)
        if let bytes = try? source.read("verify/last.json") { lastVerification = try? StableJSON.decode(LastVerification.self, from: bytes) }
        completeness = CompletenessReport.load(from: source)
        let cursors = ((try? source.list("sinks")) ?? []).filter { $0.hasSuffix(".cursor") }.sorted()
        if !cursors.isEmpty {
            sinks = cursors.compactMap { file -> SinkState? in
                let name = String(file.dropLast(7))
                guard let bytes = (try? source.read(SinkCursor.relativePath(name))) ?? nil, let cursor = try? StableJSON.decode(SinkCursor.self, from: bytes) else { return nil }
                let dead = ((try? source.read(SinkCursor.deadLettersPath(name))) ?? nil)?.filter { $0 == 0x0a }.count ?? 0
                return SinkState(name: name, next: cursor.next, lag: events > cursor.next ? events - cursor.next : 0, deadLettered: dead, updatedAt: cursor.updatedAt)
            }
        }
        // Shipping: what the ledger does not list yet.
        if let shipped {
            var pending = 0
            var oldest: Date?
            let names = Set((try? source.list("segments")) ?? [])
            for m in manifests {
                let stem = Manifest.stem(m.sequence)
                let files = names.filter { $0.hasPrefix(stem + ".") && !$0.hasSuffix(".tmp") }
                let missing = files.filter { !shipped.contains("segments/" + $0) }
                if !missing.isEmpty {
                    pending += missing.count
                    if let at = Timestamp.parse(m.sealedAt), oldest.map({ at < $0 }) ?? true { oldest = at }
                }
            }
            unshippedFiles = pending
            oldestUnshippedSealedAt = oldest.map(Timestamp.format)
            shippingLagSeconds = oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0
        }
    }

    /// Compares the segment files here with those in the bucket (store-relative names).
    public mutating func compare(withBucket bucketFiles: Set<String>, localFiles: Set<String>) {
        localOnly = localFiles.subtracting(bucketFiles).sorted()
        bucketOnly = bucketFiles.subtracting(localFiles).sorted()
        inBoth = localFiles.intersection(bucketFiles).count
    }

    /// Human-readable lines.
    public var text: String {
        var out = ["\(node ?? "?")  chain \(chainID ?? "?")  (\(store))"]
        out.append("  events:        \(events) (\(sealedEvents) sealed, \(openEvents) in the open segment of \(openSegmentBytes) bytes)")
        out.append("  event times:   \(firstEventTime ?? "-") ... \(lastEventTime ?? "-")")
        out.append("  manifests:     \(segments) segments, \(heartbeats) heartbeats; last \(lastManifestAt ?? "never")\(lastManifestClosing == true ? " (closing: stopped cleanly)" : ""); last heartbeat \(lastHeartbeatAt ?? "never")")
        out.append("  signing keys:  \(keyIDs.map { String($0.prefix(16)) + "…" }.joined(separator: ", "))")
        if let refused = refusedManifests {
            out.append("  left out:      \(refused.count) manifest(s) that do not decode or break the format's rules; the figures above do not count them (run auditseal verify)")
            for line in refused.prefix(5) { out.append("                 " + line) }
            if refused.count > 5 { out.append("                 …") }
        }
        if let v = lastVerification {
            out.append("  verified:      \(v.at): \(v.intact ? "INTACT" : "TAMPERED (\(v.errors) errors; first: \(v.firstError ?? "?"))"), tree size \(v.treeSize)\(v.fromSegment > 1 ? " (segments from \(v.fromSegment))" : "")")
        } else {
            out.append("  verified:      no scheduled verification recorded (run auditseal verify)")
        }
        out.append("  completeness:  \(backfilledEvents) event(s) backfilled from the API server's log file")
        if let completeness {
            for line in completeness.summaryLines { out.append("                 " + line) }
        } else {
            out.append("                 no reconciliation record (configure reconcile: in serve, or run auditseal reconcile)")
        }
        for sink in sinks ?? [] {
            out.append("  sink \(sink.name): next index \(sink.next), \(sink.lag) event(s) behind, \(sink.deadLettered) dead-lettered (as of \(sink.updatedAt ?? "?"))")
        }
        if let unshippedFiles {
            out.append("  shipping:      \(unshippedFiles) file(s) not yet in the bucket" + (oldestUnshippedSealedAt.map { ", oldest sealed \($0) (\(Int(shippingLagSeconds ?? 0)) s ago)" } ?? ""))
        }
        if let localOnly, let bucketOnly, let inBoth {
            out.append("  bucket:        \(inBoth) file(s) in both, \(localOnly.count) only here, \(bucketOnly.count) only in the bucket (local retention)")
            if !localOnly.isEmpty { out.append("    only here:   " + localOnly.prefix(5).joined(separator: ", ") + (localOnly.count > 5 ? ", …" : "")) }
        }
        return out.joined(separator: "\n")
    }
}
