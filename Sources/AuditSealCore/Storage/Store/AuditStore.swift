#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials

/// What one `append` stored.
public struct AppendResult: Sendable, Equatable {
    /// Events newly stored.
    public var stored: Int
    /// Events dropped because an event with the same auditID and stage is in the duplicate window.
    public var duplicates: Int
    /// Index of the first stored event, when any was stored.
    public var firstIndex: UInt64?

    public init(stored: Int, duplicates: Int, firstIndex: UInt64?) {
        self.stored = stored
        self.duplicates = duplicates
        self.firstIndex = firstIndex
    }
}

/// A snapshot of the store's progress, for health checks and metrics.
public struct StoreStatus: Sendable {
    public var nextIndex: UInt64
    public var chainHead: String
    public var manifestSequence: Int
    public var lastManifestAt: Date?
    public var segmentsSealed: Int
    public var sealFailures: Int
    public var lastError: String?
    public var openSegmentBytes: Int
    /// Events the latest signed manifest commits to.
    public var committedTreeSize: UInt64
}

/// The sealed, hash-chained event store of one node.
///
/// `append` chains a batch of events and returns once they are fsync'd; batches that arrive while
/// an fsync runs share the next one (group commit). The store is its parts: the directory lock, the
/// committer (one thread that owns the open write-ahead segment, the chain state and the duplicate
/// filter, with a pipeline that prepares the next write-ahead file), the seal scheduler (one thread
/// that turns closed segments into signed gzip files and writes heartbeats and handovers), and the
/// signing keys. Sealing never holds up appends; cutting a segment holds no lock an append needs.
public final class AuditStore: Sendable {
    public let configuration: StoreConfiguration
    public let layout: StoreLayout
    public let identity: ChainIdentity
    /// What recovery did when the store was opened (empty after a clean stop).
    public let recoveryNotes: [String]

    private let keys: SigningKeys
    private let committer: Committer
    private let scheduler: SealScheduler

    /// Opens (creating if needed) a data directory, recovering it after any stop, and starts the
    /// committer and sealer threads. Fails when another process holds the directory.
    public init(configuration: StoreConfiguration, signingKey: Ed25519PrivateKey) throws {
        self.configuration = configuration
        let layout = StoreLayout(root: configuration.dataDirectory)
        self.layout = layout
        try FileIO.makeDirectories(layout.root)
        let directoryLock = try DirectoryLock(layout: layout)
        // A failed start releases the lock with the half-made store (DirectoryLock ends with it).
        let recovered = try Recovery.recover(layout: layout, configuration: configuration)
        identity = recovered.identity
        recoveryNotes = recovered.notes
        keys = try SigningKeys(key: signingKey, layout: layout, tip: recovered.tip)
        let sealer = Sealer(layout: layout, configuration: configuration, key: signingKey, identity: recovered.identity)
        var tip = recovered.tip
        if recovered.tip.closing {
            // The last run ended with "nothing more is due". Events taken from now on must not
            // sit behind that promise, where cutting them would leave no trace: before the first
            // append, a heartbeat says more is coming (docs/FORMAT.md §4).
            tip = try sealer.heartbeat(after: recovered.tip, durable: recovered.durable, closing: false)
        }
        let openedAt = Date()
        scheduler = SealScheduler(sealer: sealer, layout: layout, heartbeatInterval: configuration.heartbeatInterval, tip: tip,
                                  durable: recovered.durable, closedSegments: recovered.closedSegments,
                                  onFinish: { directoryLock.release() })
        committer = Committer(configuration: configuration, layout: layout, chainID: recovered.identity.chainID,
                              recovered: recovered, acknowledgedSince: openedAt, scheduler: scheduler)
    }

    /// Chains and durably stores the batch's events (after dropping duplicates); returns once they
    /// are fsync'd. On failure nothing of the batch is stored and the store stays consistent.
    public func append(_ batch: EventBatch) async throws -> AppendResult {
        try await committer.append(batch)
    }

    /// Seals the open segment now (if it holds events) and returns once its manifest is durable.
    public func sealNow() async throws {
        try await committer.rotate(closing: false)
    }

    /// The key that signs manifests now.
    public var signingKeyID: String { keys.currentKeyID }

    /// Rotates the signing key: a heartbeat signed by the current key names `next`'s key ID, and
    /// `next` signs every later manifest (docs/FORMAT.md §7). Returns once that heartbeat is durable.
    public func rotateKey(to next: Ed25519PrivateKey) async throws {
        guard next.publicKey.keyID != signingKeyID else { return }
        try await scheduler.request(.handover(next))
        keys.handedOver(to: next.publicKey.keyID)
    }

    /// Writes a signed heartbeat manifest now, committing to every durable event.
    public func heartbeatNow() async throws {
        try await scheduler.request(.heartbeat(closing: false))
    }

    /// Stops accepting appends, seals the open segment with a closing manifest, and stops the threads.
    /// A failing seal is tried five times (a transient I/O error must not turn a clean stop into
    /// a crash); after that the error is thrown, and the next start seals what is left.
    public func close() async throws {
        var failure: Error?
        for attempt in 0..<5 {
            do {
                try await committer.rotate(closing: true)
                failure = nil
                break
            } catch {
                failure = error
                if (error as? AuditSealError)?.code == .shuttingDown { break }
                try? await Task.sleep(for: .milliseconds(100 << attempt))
            }
        }
        committer.beginStop()
        await scheduler.stop()
        if let failure { throw failure }
    }

    /// A snapshot of progress.
    public var status: StoreStatus {
        let written = committer.snapshot
        let sealed = scheduler.snapshot
        return StoreStatus(nextIndex: written.durable.nextIndex, chainHead: written.durable.head.hex, manifestSequence: sealed.tip.sequence,
                           lastManifestAt: sealed.tip.sealedAt, segmentsSealed: sealed.segmentsSealed, sealFailures: sealed.sealFailures,
                           lastError: written.writeError ?? sealed.sealError, openSegmentBytes: written.openSegmentBytes,
                           committedTreeSize: sealed.tip.committedTreeSize)
    }

    /// When the oldest acknowledged event with an index of at least `index` was acknowledged (nil
    /// when every event is below it): with the tree size a manifest commits to, how long events
    /// have waited for it. Marks wholly before `forgetBefore` are dropped.
    public func oldestEventTime(from index: UInt64, forgetBefore: UInt64? = nil) -> Date? {
        committer.oldestEventTime(from: index, forgetBefore: forgetBefore)
    }

    /// The chain's durable size (events acknowledged) now and after each commit that grows it, the
    /// newest only: a follower (a forwarding sink) reads the events themselves from the files,
    /// catching up from sealed segments and the write-ahead log, so it may lag by hours. Ends when
    /// the committer stops.
    public func committedSizes() -> AsyncStream<UInt64> {
        committer.committedSizes()
    }

    /// The newest manifest's sequence now and after each manifest the store makes durable (a
    /// sealed segment or a heartbeat), the newest only: shipping, witness submission and
    /// background verification follow it instead of listing the data directory. Ends when the
    /// sealer stops (after the closing manifest).
    public func sealedManifests() -> AsyncStream<Int> {
        scheduler.sealedManifests()
    }

    /// `observer` is told of every manifest the store makes durable from now on (its sequence, and
    /// whether it sealed a segment), on the sealer's thread with the sealer's lock held: it must
    /// return at once and never call into the store.
    public func observeManifests(_ observer: @escaping @Sendable (_ sequence: Int, _ segment: Bool) -> Void) {
        scheduler.observeManifests(observer)
    }
}
