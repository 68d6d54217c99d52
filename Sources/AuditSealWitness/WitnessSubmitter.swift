import AsyncHTTPClient
import AuditSealCore
import FoundationEssentials
import Logging
import Metrics
import NIOCore
import ServiceLifecycle

/// The receiver's side of witnessing: after each seal, the newest checkpoint whose tree is sealed
/// goes to every configured witness (C2SP tlog-witness `add-checkpoint`) with a consistency proof
/// from the last checkpoint that witness cosigned. The returned cosignature is checked and stored
/// beside the checkpoint as `segments/<stem>.cosignature.<witness key ID>`, which ships with it.
/// A witness that is down delays nothing: ingest and sealing never wait for it, and the newest
/// checkpoint is offered again at the next interval.
public final class WitnessSubmitter: Service, Sendable {
    public struct Endpoint: Sendable {
        public var url: String
        public var key: WitnessKey
        public init(url: String, key: WitnessKey) {
            self.url = url
            self.key = key
        }
        var stateName: String { Hex.encode(key.keyID) }
    }

    /// What a witness has cosigned of this chain (DATA_DIR/witnessing/<key ID>.json).
    struct Progress: Codable {
        var sequence: Int
        var treeSize: UInt64
    }

    let dataDirectory: String
    public let endpoints: [Endpoint]
    let interval: Double
    let manifests: AsyncStream<Int>
    let logger: Logger
    let client: HTTPClient
    private let source: DirectorySource
    /// What the manifests read so far say: the segments, the next sequence to read, the newest
    /// manifest whose checkpoint can be offered (submissions to several witnesses take turns).
    private let known = Locked(Known())

    struct Known {
        var segments = [StoreTree.Segment]()
        var nextSequence = 1
        var newestEligible: Manifest?
        var newestSegmentEnd: UInt64 = 0
    }

    /// `manifests` (the store's `sealedManifests()`) says when there is a new checkpoint to offer.
    public init(dataDirectory: String, endpoints: [Endpoint], interval: Double, logger: Logger, client: HTTPClient = .shared,
                manifests: AsyncStream<Int>) {
        self.manifests = manifests
        self.dataDirectory = dataDirectory
        self.endpoints = endpoints
        self.interval = interval
        self.logger = logger
        self.client = client
        self.source = DirectorySource(root: dataDirectory)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            // After each manifest the store makes durable (and at the start); a witness that
            // failed is tried again at the interval: the one timer left, for a witness that does
            // not answer.
            for await _ in self.manifests {
                var pending = self.endpoints
                while !pending.isEmpty && !Task.isCancelled {
                    var failed = [Endpoint]()
                    for endpoint in pending where !(await self.submitLogged(endpoint)) { failed.append(endpoint) }
                    pending = failed
                    if !pending.isEmpty { try? await Task.sleep(for: .seconds(self.interval)) }  // retry spacing, not a synchronization
                }
            }
        }
    }

    /// At a stop, after the closing manifest: offers it to every witness once, each for at most
    /// `seconds`, so that a cleanly stopped store is cosigned to its end (`verify --witness-quorum`).
    public func offerClosingCheckpoint(seconds: Double) async {
        for endpoint in endpoints {
            do {
                _ = try await withDeadline(seconds: seconds) { try await self.submit(to: endpoint) }
            } catch {
                Counter(label: "auditseal_witness_submission_failures_total", dimensions: [("witness", endpoint.key.name)]).increment()
                logger.warning("the closing checkpoint was not cosigned; the next start offers it again", metadata: ["witness": "\(endpoint.key.name)", "error": "\(error)"])
            }
        }
    }

    /// False when the submission failed (to be tried again); true also when there was nothing to offer.
    private func submitLogged(_ endpoint: Endpoint) async -> Bool {
        do {
            _ = try await submit(to: endpoint)
            return true
        } catch {
            Counter(label: "auditseal_witness_submission_failures_total", dimensions: [("witness", endpoint.key.name)]).increment()
            logger.warning("witness submission failed; retried at the next interval", metadata: ["witness": "\(endpoint.key.name)", "error": "\(error)"])
            return false
        }
    }

    /// Reads manifests sealed since the last call (probing forward from the last known sequence).
    @discardableResult
    func catchUp() throws -> Known {
        try known.withLock { k in
            if k.nextSequence == 1, let last = try? FileIO.list(dataDirectory + "/segments").compactMap(Manifest.sequence(ofFileName:)).max(), last > 1 {
                // First call: every manifest once, to know the segments (later calls read only new ones).
                for sequence in 1...last { try read(sequence, into: &k) }
                k.nextSequence = last + 1
            }
            while FileIO.exists(dataDirectory + "/segments/" + Manifest.stem(k.nextSequence) + ".manifest.json") {
                try read(k.nextSequence, into: &k)
                k.nextSequence += 1
            }
            return k
        }
    }

    private func read(_ sequence: Int, into k: inout Known) throws {
        guard let bytes = try source.read("segments/" + Manifest.stem(sequence) + ".manifest.json") else { return }
        let m = try Manifest.decode(bytes)
        if let seg = StoreTree.segment(of: m) {
            k.segments.append(seg)
            k.newestSegmentEnd = seg.end
        }
        if m.treeSize <= k.newestSegmentEnd && m.treeSize > 0 { k.newestEligible = m }
    }

    private func progressPath(_ e: Endpoint) -> String { dataDirectory + "/witnessing/" + e.stateName + ".json" }

    func progress(_ e: Endpoint) -> Progress? {
        guard let bytes = try? FileIO.readAll(path: progressPath(e)) else { return nil }
        return try? StableJSON.decode(Progress.self, from: bytes)
    }

    /// Offers the newest sealed checkpoint to one witness; true when it is (now) cosigned.
    @discardableResult
    public func submit(to endpoint: Endpoint) async throws -> Bool {
        let known = try catchUp()
        let segments = known.segments
        guard let newest = known.newestEligible else { return false }
        var done = progress(endpoint)
        if let done, done.sequence >= newest.sequence { return true }
        var oldSize = done?.treeSize ?? 0
        for _ in 0..<2 {
            let proof: [SHA256Digest]
            if oldSize > 0 && oldSize < newest.treeSize {
                let tree = StoreTree(segments: segments, manifests: [newest], read: source.read)
                tree.useFrontier(of: newest)
                // The old tree's right edge too: its small subtrees then need no leaves from the
                // segment that ends there (only the first lines of the one that starts there).
                if let done, done.treeSize == oldSize,
                   let bytes = try? source.read("segments/" + Manifest.stem(done.sequence) + ".manifest.json"),
                   let old = try? Manifest.decode(bytes), old.treeSize == oldSize {
                    tree.useFrontier(of: old)
                }
                proof = try MerkleProof.consistencyProof(from: oldSize, to: newest.treeSize, hash: tree.hash)
            } else {
                proof = []
            }
            guard oldSize <= newest.treeSize else { throw AuditSealError(.storage, "witness \(endpoint.key.name) cosigned size \(oldSize), larger than this chain's sealed \(newest.treeSize) (another chain with this origin?)") }
            let checkpoint = String(decoding: try FileIO.readAll(path: dataDirectory + "/segments/" + Manifest.stem(newest.sequence) + ".checkpoint"), as: UTF8.self)
            let body = AddCheckpointRequest(oldSize: oldSize, proof: proof, checkpoint: checkpoint).body
            var request = HTTPClientRequest(url: endpoint.url.hasSuffix("/") ? endpoint.url + "add-checkpoint" : endpoint.url + "/add-checkpoint")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(30))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
            switch response.status.code {
            case 200:
                let note = try SignedNote(checkpoint)
                let lines = text.split(separator: "\n").map(String.init)
                guard Cosignature.verify(lines: lines, body: note.body, witness: endpoint.key) != nil else {
                    throw AuditSealError(.crypto, "witness \(endpoint.key.name) answered 200 without a valid cosignature by its key")
                }
                let valid = lines.filter { Cosignature.verify(lines: [$0], body: note.body, witness: endpoint.key) != nil }
                let file = dataDirectory + "/segments/" + Manifest.stem(newest.sequence) + ".cosignature." + endpoint.stateName
                try FileIO.writeAtomically(path: file, bytes: Array(valid.map { $0 + "\n" }.joined().utf8), mode: 0o444)
                try FileIO.makeDirectories(dataDirectory + "/witnessing")
                done = Progress(sequence: newest.sequence, treeSize: newest.treeSize)
                try FileIO.writeAtomically(path: progressPath(endpoint), bytes: try StableJSON.encode(done!) + [0x0a])
                Counter(label: "auditseal_witness_cosignatures_total", dimensions: [("witness", endpoint.key.name)]).increment()
                Gauge(label: "auditseal_witness_cosigned_tree_size", dimensions: [("witness", endpoint.key.name)]).record(Double(newest.treeSize))
                return true
            case 409:
                // The witness holds another size: prove from there (once), or report a fork.
                guard let size = UInt64(text.trimmed), size != oldSize else {
                    throw AuditSealError(.storage, "witness \(endpoint.key.name) refused checkpoint \(newest.treeSize) with a conflict (409): it cosigned a different tree of this size")
                }
                logger.info("witness holds another size; proving from it", metadata: ["witness": "\(endpoint.key.name)", "size": "\(size)"])
                oldSize = size
            default:
                throw AuditSealError(.storage, "witness \(endpoint.key.name) answered \(response.status.code): \(text.prefix(200))")
            }
        }
        return false
    }
}
