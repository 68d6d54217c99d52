import AuditSealCore
import FoundationEssentials
import Glibc
import Logging

/// A C2SP tlog-witness: cosigns a log's checkpoint only when it is consistent with the latest one
/// it cosigned for that origin (https://c2sp.org/tlog-witness). Checking and persisting happen
/// under one lock, so two concurrent requests can never roll the state back.
public final class Witness: Sendable {
    /// A log the witness knows: its origin and the keys that sign its checkpoints.
    public struct Log: Sendable {
        public var origin: String
        public var keys: [Ed25519PublicKey]
        public init(origin: String, keys: [Ed25519PublicKey]) {
            self.origin = origin
            self.keys = keys
        }

        /// Parses a checkpoint verifier key `<origin>+<hex key hash>+<base64(0x01 || key)>`
        /// (what `auditseal` prints for a node's chain; the origin is the key name).
        public init(verifierKey: String) throws {
            let parts = verifierKey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, let blob = Base64.decode(String(parts[2])), blob.count == 33, blob[0] == 0x01 else {
                throw AuditSealError(.usage, "a log key is <origin>+<8 hex digits>+<base64 of 0x01 and the 32-byte Ed25519 key>, not \(verifierKey)")
            }
            let key = try Ed25519PublicKey(rawRepresentation: Array(blob[1...]))
            guard Hex.encode(Checkpoint.noteKeyHash(name: String(parts[0]), publicKey: key)) == parts[1] else {
                throw AuditSealError(.usage, "log key \(parts[0]): the key hash \(parts[1]) does not match the origin and key")
            }
            self.init(origin: String(parts[0]), keys: [key])
        }
    }

    /// An answer: HTTP status, body and content type.
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public var contentType: String
    }

    public let name: String
    let key: Ed25519PrivateKey
    let dataDirectory: String
    let logs: [String: Log]
    let metrics: WitnessMetrics
    let logger: Logger
    /// What has been cosigned; every request takes it in turn, so two can never roll it back.
    private let state: Locked<WitnessState>
    private let clock = Locked<@Sendable () -> Date>({ Date() })
    /// The clock the cosignatures' timestamps come from (tests set it).
    public var now: @Sendable () -> Date {
        get { clock.withLock { $0 } }
        set { clock.withLock { $0 = newValue } }
    }

    public init(name: String, key: Ed25519PrivateKey, dataDirectory: String, logs: [Log], metrics: WitnessMetrics, logger: Logger) throws {
        self.name = name
        self.key = key
        self.dataDirectory = dataDirectory
        var byOrigin = [String: Log]()
        for log in logs { byOrigin[log.origin, default: Log(origin: log.origin, keys: [])].keys += log.keys }
        self.logs = byOrigin
        self.metrics = metrics
        self.logger = logger
        try FileIO.makeDirectories(dataDirectory)
        state = Locked(try WitnessState.load(dataDirectory: dataDirectory))
    }

    /// The witness's verifier key (give it to whoever checks cosignatures).
    public var verifierKey: String { WitnessKey(name: name, publicKey: key.publicKey).verifierKey }

    /// The latest cosigned head of an origin.
    public func head(of origin: String) -> WitnessState.Head? { state.withLock { $0.logs[origin] } }

    /// Handles an add-checkpoint request body.
    public func addCheckpoint(body: String) -> Answer {
        let answer = handle(body)
        metrics.requests(status: answer.status)
        return answer
    }

    private func text(_ status: Int, _ message: String) -> Answer { Answer(status: status, body: message + "\n", contentType: "text/plain; charset=utf-8") }

    private func handle(_ body: String) -> Answer {
        let request: AddCheckpointRequest
        do { request = try AddCheckpointRequest(body: body) } catch { return text(400, "\(error)") }
        let note: SignedNote
        do { note = try SignedNote(request.checkpoint) } catch { return text(400, "\(error)") }
        guard let origin = note.body.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init), let log = logs[origin] else {
            return text(404, "unknown log origin")
        }
        let checkpoint: Checkpoint
        do { (checkpoint, _) = try Checkpoint.open(note: request.checkpoint, keys: log.keys) } catch {
            return text(403, "no valid signature by a key of \(origin): \(error)")
        }
        guard request.oldSize <= checkpoint.treeSize else { return text(400, "old size \(request.oldSize) is larger than the checkpoint's \(checkpoint.treeSize)") }
        return state.withLock { state -> Answer in
            let current = state.logs[origin]
            let currentSize = current?.size ?? 0
            guard request.oldSize == currentSize else {
                return Answer(status: 409, body: "\(currentSize)\n", contentType: "text/x.tlog.size")
            }
            if let current, checkpoint.treeSize == current.size, checkpoint.rootHash.hex != current.root {
                conflict(origin: origin, request: request, reason: "a checkpoint of size \(checkpoint.treeSize) with root \(checkpoint.rootHash.hex), but \(current.root) was cosigned at that size")
                return Answer(status: 409, body: "\(currentSize)\n", contentType: "text/x.tlog.size")
            }
            if let current, currentSize > 0, checkpoint.treeSize > currentSize {
                do {
                    try MerkleProof.verifyConsistency(from: currentSize, to: checkpoint.treeSize, root1: SHA256Digest(hex: current.root) ?? .zero,
                                                      root2: checkpoint.rootHash, proof: request.proof, using: SHA256())
                } catch {
                    conflict(origin: origin, request: request, reason: "the checkpoint of size \(checkpoint.treeSize) is not consistent with the cosigned size \(currentSize): \(error)")
                    return text(422, "consistency proof does not verify: \(error)")
                }
            } else if !request.proof.isEmpty && (currentSize == 0 || checkpoint.treeSize == currentSize) {
                return text(422, "the consistency proof must be empty from size \(currentSize) to \(checkpoint.treeSize)")
            }
            if checkpoint.treeSize == 0 && checkpoint.rootHash != MerkleHash.emptyRoot { return text(422, "a checkpoint of size 0 must have the empty tree's root") }
            let timestamp = UInt64(max(0, now().timeIntervalSince1970))
            let line: String
            do {
                var next = state
                next.logs[origin] = WitnessState.Head(size: checkpoint.treeSize, root: checkpoint.rootHash.hex, cosignedAt: Timestamp.format(now()))
                try next.save(dataDirectory: dataDirectory)
                state = next
                line = try Cosignature.line(body: note.body, name: name, key: key, timestamp: timestamp)
            } catch {
                logger.error("cannot persist the witness state", metadata: ["error": "\(error)"])
                return text(503, "cannot persist the witness state: \(error)")
            }
            metrics.cosigned(origin: origin, size: checkpoint.treeSize)
            return Answer(status: 200, body: line, contentType: "text/plain; charset=utf-8")
        }
    }

    /// A fork or an inconsistent history: logged, counted, and the request kept as evidence.
    private func conflict(origin: String, request: AddCheckpointRequest, reason: String) {
        metrics.conflict(origin: origin)
        logger.critical("witness conflict: \(reason)", metadata: ["origin": "\(origin)"])
        let record = "=== \(Timestamp.format(now())) \(origin): \(reason)\n\(request.body)\n"
        let path = dataDirectory + "/conflicts.log"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd >= 0 {
            _ = Array(record.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            _ = fsync(fd)
            close(fd)
        }
    }
}
