import ArgumentParser
import AuditSealCore
import AuditSealShipping
import FoundationEssentials

/// Where a proof's files come from: a data directory, or the objects of one store in a bucket
/// (`BucketSource`, in memory): its manifests, checkpoints, cosignatures and tree-node indexes, then
/// only the segment files the proof needs.
struct ProofStore {
    let source: StoreSource
    let tree: StoreTree

    /// `needs` is given the manifests and the small files (checkpoints, cosignatures, tree-node
    /// indexes) already fetched, and names the segment files the proof reads.
    static func open(_ store: String, s3: S3Options, node: String?, needs: (StoreTree, StoreSource) throws -> [String]) async throws -> ProofStore {
        guard store.hasPrefix("s3://") else {
            guard FileIO.exists(store) else { throw ValidationError("\(store) does not exist") }
            let source = DirectorySource(root: store)
            return ProofStore(source: source, tree: StoreTree(manifests: try StoreTree.loadManifests(from: source), read: source.read))
        }
        guard let location = BucketURL(store) else { throw ValidationError("\(store): not s3://BUCKET/PREFIX") }
        let client = try s3.client(bucket: location.bucket, for: store)
        do {
            let stores = StoreObject.stores(try await BucketVerification(client: client).discoverStores(prefix: location.prefix), ofNode: node)
            guard stores.count == 1, let storePrefix = stores.first else {
                throw ValidationError(stores.isEmpty ? "no auditseal store under \(store)" : "\(stores.count) stores under \(store) (\(stores.joined(separator: ", "))): narrow the prefix to PREFIX/NODE/CHAIN-ID or give --node")
            }
            // Manifests, checkpoints, cosignatures and tree-node indexes (0.25 bytes per event) are
            // small: all of them; segment data only as needed.
            let source = try await BucketSource(client: client, storePrefix: storePrefix, fetchNow: {
                $0.hasSuffix(".manifest.json") || $0.hasSuffix(".checkpoint") || $0.contains(".cosignature.") || $0.hasSuffix(".nodes")
            })
            let planning = StoreTree(manifests: try StoreTree.loadManifests(from: source), read: { _ in nil })
            try await source.fetch(try needs(planning, source))
            try? await client.shutdown()
            return ProofStore(source: source, tree: StoreTree(manifests: try StoreTree.loadManifests(from: source), read: source.read))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// Options shared by `prove` and `consistency`: which store in a bucket, where the proof goes.
struct ProofOutputOptions: ParsableArguments {
    @Option(help: "In a bucket with several stores: the node.")
    var node: String?

    @Option(name: .shortAndLong, help: "Write the proof here (default: standard output).")
    var output: String?

    @OptionGroup(title: "Reading from S3") var s3: S3Options

    func open(_ store: String, needs: (StoreTree, StoreSource) throws -> [String]) async throws -> ProofStore {
        try await ProofStore.open(store, s3: s3, node: node, needs: needs)
    }

    func write(_ proof: ProofFile) throws {
        let bytes = try proof.encoded()
        if let output { try FileIO.writeAtomically(path: output, bytes: bytes) } else { Console.standardOutput.write(Data(bytes)) }
    }
}
