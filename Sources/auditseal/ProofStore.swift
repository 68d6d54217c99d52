import ArgumentParser
import AuditSealCore
import AuditSealShipping
import Foundation

/// Where a proof's files come from: a data directory, or the objects of one store in a bucket,
/// downloaded as needed (manifests, then only the files the proof needs).
struct ProofStore {
    let source: StoreSource
    let tree: StoreTree
    let cleanup: () -> Void

    /// `needs` is given the manifests and the small files (checkpoints, cosignatures, tree-node
    /// indexes) already fetched, and names the segment files the proof reads.
    static func open(_ store: String, s3: S3Options, node: String?, needs: (StoreTree, StoreSource) throws -> [String]) async throws -> ProofStore {
        guard store.hasPrefix("s3://") else {
            guard FileIO.exists(store) else { throw ValidationError("\(store) does not exist") }
            let source = DirectorySource(root: store)
            return ProofStore(source: source, tree: StoreTree(manifests: try StoreTree.loadManifests(from: source), read: source.read), cleanup: {})
        }
        guard let location = BucketURL(store) else { throw ValidationError("\(store): not s3://BUCKET/PREFIX") }
        let (bucket, prefix) = (location.bucket, location.prefix)
        let client = try s3.client(bucket: bucket, for: store)
        let dir = NSTemporaryDirectory() + "auditseal-prove-\(UUID().uuidString.prefix(8))"
        do {
            var stores = try await BucketVerification(client: client).discoverStores(prefix: prefix)
            stores = StoreObject.stores(stores, ofNode: node)
            guard stores.count == 1, let storePrefix = stores.first else {
                throw ValidationError(stores.isEmpty ? "no auditseal store under \(store)" : "\(stores.count) stores under \(store) (\(stores.joined(separator: ", "))): narrow the prefix to PREFIX/NODE/CHAIN-ID or give --node")
            }
            let objects = StoreObject.group(try await client.listVersions(prefix: storePrefix), storePrefix: storePrefix)
            func fetch(_ relative: String) async throws {
                guard !FileIO.exists(dir + "/" + relative), let object = objects.first(where: { $0.relative == relative }),
                      let (bytes, _) = try await client.getObject(key: object.key, versionID: object.originalVersionID) else { return }
                try FileIO.makeDirectories(FileIO.directory(of: dir + "/" + relative))
                try FileIO.writeAtomically(path: dir + "/" + relative, bytes: bytes)
            }
            try FileIO.makeDirectories(dir + "/segments")
            // Manifests, checkpoints, cosignatures and tree-node indexes (0.25 bytes per event) are
            // small: all of them; segment data only as needed.
            for o in objects where o.relative.hasSuffix(".manifest.json") || o.relative.hasSuffix(".checkpoint")
                || o.relative.contains(".cosignature.") || o.relative.hasSuffix(".nodes") {
                try await fetch(o.relative)
            }
            let source = DirectorySource(root: dir)
            let planning = StoreTree(manifests: try StoreTree.loadManifests(from: source), read: { _ in nil })
            for file in try needs(planning, source) { try await fetch(file) }
            try? await client.shutdown()
            return ProofStore(source: source, tree: StoreTree(manifests: try StoreTree.loadManifests(from: source), read: source.read),
                              cleanup: { try? FileManager.default.removeItem(atPath: dir) })
        } catch {
            try? await client.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
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
        if let output { try FileIO.writeAtomically(path: output, bytes: bytes) } else { FileHandle.standardOutput.write(Data(bytes)) }
    }
}
