import AsyncHTTPClient
import AuditSealCore
import AuditSealTestSupport
import AuditSealWitness
import Foundation
import Logging
import NIOCore
import Testing

/// The witness (C2SP tlog-witness) as a separate process, and the receiver's submitter: a chain of
/// 100 checkpoints is cosigned; a fork made with the stolen signing key is refused (409/422) and
/// counted; `verify --witness-quorum 1` flags the forged store; the witness's state survives kill -9.
@Suite(.serialized) struct WitnessTests {
    typealias WitnessProcess = AuditSealTestSupport.WitnessProcess

    static func post(_ url: String, _ body: String) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    static func batch(_ prefix: String, _ n: Int) throws -> EventBatch {
        try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: n, prefix: prefix))
    }

    static func logKey(_ dataDir: String, _ key: Ed25519PrivateKey) throws -> String {
        let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: dataDir + "/chain.json"))
        return Checkpoint.verifierKey(name: Checkpoint.origin(node: identity.node, chainID: identity.chainID), publicKey: key.publicKey)
    }

    static func copyTree(_ from: String, _ to: String) throws {
        let r = try TestSupport.run("/bin/cp", ["-a", from, to])
        #expect(r.status == 0)
    }

    @Test(.tier(.slow)) func aChainOf100CheckpointsIsCosignedAndAForkIsRefused() async throws {
        let dir = TestSupport.temporaryDirectory("witness")
        let (logKey, _) = try TestSupport.signingKey(in: dir)
        let witnessKeyPath = dir + "/witness.key"
        let witnessKey = try KeyFiles.generate(at: witnessKeyPath)
        let w = WitnessKey(name: "witness.test/w1", publicKey: witnessKey.publicKey)

        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: logKey)
        _ = try await store.append(try Self.batch("first", 3))
        try await store.sealNow()
        let witness = try WitnessProcess(arguments: ["--data-dir", dir + "/witness", "--key", witnessKeyPath, "--name", w.name] + ([try Self.logKey(dir + "/data", logKey)]).flatMap { ["--log", $0] })
        defer { witness.kill() }
        let submitter = WitnessSubmitter(dataDirectory: dir + "/data", endpoints: [.init(url: witness.url, key: w)], interval: 1, logger: Logger(label: "test"),
                                         manifests: AsyncStream { $0.finish() })  // run() is not used: submit directly
        let endpoint = submitter.endpoints[0]
        #expect(try await submitter.submit(to: endpoint))
        var forkPoint = 0
        for round in 1..<100 {
            _ = try await store.append(try Self.batch("r\(round)", 1 + round % 7))
            try await store.sealNow()
            #expect(try await submitter.submit(to: endpoint), "round \(round)")
            if round == 60 {
                // The attacker's copy: the store as it was at checkpoint 61.
                try Self.copyTree(dir + "/data", dir + "/forged")
                forkPoint = store.status.manifestSequence
            }
        }
        try await store.close()
        let cosignatures = try FileIO.list(dir + "/data/segments").filter { $0.contains(".cosignature.") }
        #expect(cosignatures.count == 100)

        let policy = WitnessPolicy(witnesses: [w], quorum: 1)
        var options = Verifier.Options(trustedKeys: [logKey.publicKey])
        options.witnessPolicy = policy
        let genuine = Verifier(source: DirectorySource(root: dir + "/data"), options: options).run()
        // The closing manifest was written after the last submission; it adds no event.
        #expect(genuine.intact, "\(genuine.findings)")
        #expect(genuine.witnessedTreeSize == genuine.treeSize)

        // Fork: the forged copy continues with other events, signed with the stolen key, up to the
        // genuine size and beyond.
        let genuineSize = genuine.treeSize
        let forged = try AuditStore(configuration: StoreConfiguration(dataDirectory: dir + "/forged", nodeName: "cp-1"), signingKey: logKey)
        let forgedStart = forged.status.nextIndex
        _ = try await forged.append(try Self.batch("forged", Int(genuineSize - forgedStart)))
        try await forged.sealNow()
        let sameSize = forged.status.manifestSequence
        _ = try await forged.append(try Self.batch("forged-more", 5))
        try await forged.sealNow()
        try await forged.close()

        let head = try #require(Self.witnessState(dir + "/witness").logs.values.first)
        #expect(head.size == genuineSize)
        let sameNote = String(decoding: try FileIO.readAll(path: dir + "/forged/segments/" + Manifest.stem(sameSize) + ".checkpoint"), as: UTF8.self)
        let (status, body) = try await Self.post(witness.url + "/add-checkpoint", AddCheckpointRequest(oldSize: genuineSize, proof: [], checkpoint: sameNote).body)
        #expect(status == 409)
        #expect(body == "\(genuineSize)\n")

        // The larger forged checkpoint, with a consistency proof built from the forged tree: 422.
        let source = DirectorySource(root: dir + "/forged")
        let tree = StoreTree(manifests: try StoreTree.loadManifests(from: source), read: source.read)
        let newest = try #require(ProofBuilder(tree: tree, source: source).newestProvable())
        tree.useFrontier(of: newest)
        let proof = try MerkleProof.consistencyProof(from: genuineSize, to: newest.treeSize, hash: tree.hash)
        let newestNote = String(decoding: try FileIO.readAll(path: dir + "/forged/segments/" + Manifest.stem(newest.sequence) + ".checkpoint"), as: UTF8.self)
        let (status2, _) = try await Self.post(witness.url + "/add-checkpoint", AddCheckpointRequest(oldSize: genuineSize, proof: proof, checkpoint: newestNote).body)
        #expect(status2 == 422)
        // The witness's own submitter path reports the refusal too.
        let forgedSubmitter = WitnessSubmitter(dataDirectory: dir + "/forged", endpoints: [.init(url: witness.url, key: w)], interval: 1, logger: Logger(label: "test"),
                                         manifests: AsyncStream { $0.finish() })  // run() is not used: submit directly
        await #expect(throws: (any Error).self) { try await forgedSubmitter.submit(to: forgedSubmitter.endpoints[0]) }

        let metrics = try await Self.get(witness.url + "/metrics")
        #expect(metrics.contains(#"auditseal_witness_conflicts_total{origin=""#))
        #expect(metrics.contains(#"auditseal_witness_cosignatures_total{origin=""#))
        #expect(try FileIO.readAll(path: dir + "/witness/conflicts.log").count > 0)
        #expect(try Self.witnessState(dir + "/witness").logs.values.first?.size == genuineSize)

        // verify --witness-quorum 1 flags the forged store: its checkpoints after the fork lack cosignatures...
        let forgedReport = Verifier(source: DirectorySource(root: dir + "/forged"), options: options).run()
        #expect(forgedReport.findings.map(\.code).contains("not-witnessed"), "\(forgedReport.findings)")
        #expect(forgedReport.witnessedTreeSize ?? 0 < genuineSize)
        // ...and copying genuine cosignatures onto forged checkpoints makes them invalid ones.
        let genuineCosig = try #require(cosignatures.first { $0.hasPrefix(Manifest.stem(sameSize) + ".") })
        try Self.copyTree(dir + "/data/segments/" + genuineCosig, dir + "/forged/segments/" + genuineCosig)
        let copied = Verifier(source: DirectorySource(root: dir + "/forged"), options: options).run()
        #expect(copied.findings.map(\.code).contains("cosignature-invalid"), "\(copied.findings)")
        #expect(forkPoint > 0)
        // Without a witness policy the forged store is internally consistent: that is why witnesses exist.
        #expect(Verifier(source: DirectorySource(root: dir + "/forged"), options: .init(trustedKeys: [logKey.publicKey])).run().intact)
    }

    @Test func theWitnessKeepsItsStateAcrossKill9() async throws {
        let dir = TestSupport.temporaryDirectory("witness-restart")
        let (logKey, _) = try TestSupport.signingKey(in: dir)
        let witnessKey = try KeyFiles.generate(at: dir + "/witness.key")
        let w = WitnessKey(name: "witness.test/w2", publicKey: witnessKey.publicKey)
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-2")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: logKey)
        let logs = [try Self.logKey(dir + "/data", logKey)]
        var witness = try WitnessProcess(arguments: ["--data-dir", dir + "/witness", "--key", dir + "/witness.key", "--name", w.name] + (logs).flatMap { ["--log", $0] })
        let submitter = WitnessSubmitter(dataDirectory: dir + "/data", endpoints: [.init(url: witness.url, key: w)], interval: 1, logger: Logger(label: "test"),
                                         manifests: AsyncStream { $0.finish() })  // run() is not used: submit directly
        for round in 0..<5 {
            _ = try await store.append(try Self.batch("k\(round)", 10))
            try await store.sealNow()
            #expect(try await submitter.submit(to: submitter.endpoints[0]))
        }
        let size = store.status.nextIndex
        witness.kill()
        witness.process.waitUntilExit()
        witness = try WitnessProcess(arguments: ["--data-dir", dir + "/witness", "--key", dir + "/witness.key", "--name", w.name] + (logs).flatMap { ["--log", $0] })
        defer { witness.kill() }
        // An old checkpoint offered as if new is refused: the witness remembers the size it cosigned.
        let first = String(decoding: try FileIO.readAll(path: dir + "/data/segments/000000000001.checkpoint"), as: UTF8.self)
        let (status, body) = try await Self.post(witness.url + "/add-checkpoint", AddCheckpointRequest(oldSize: 0, proof: [], checkpoint: first).body)
        #expect(status == 409)
        #expect(body == "\(size)\n")
        // The chain goes on from there with the restarted witness (a new URL, the same state).
        _ = try await store.append(try Self.batch("after", 10))
        try await store.sealNow()
        let again = WitnessSubmitter(dataDirectory: dir + "/data", endpoints: [.init(url: witness.url, key: w)], interval: 1, logger: Logger(label: "test"),
                                         manifests: AsyncStream { $0.finish() })  // run() is not used: submit directly
        #expect(try await again.submit(to: again.endpoints[0]))
        try await store.close()
        // Unknown origin 404, bad signature 403, malformed 400.
        let (s404, _) = try await Self.post(witness.url + "/add-checkpoint", "old 0\n\nother/log\n1\n\(Base64.encode(MerkleHash.emptyRoot.bytes))\n\n— other/log AAAA\n")
        #expect(s404 == 404)
        // The genuine signature line over a body whose size was changed.
        var noteLines = first.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        noteLines[1] = "999"
        let tampered = noteLines.joined(separator: "\n")
        let (s403, _) = try await Self.post(witness.url + "/add-checkpoint", "old \(size + 10)\n\n" + tampered)
        #expect(s403 == 403)
        let (s400, _) = try await Self.post(witness.url + "/add-checkpoint", "nonsense")
        #expect(s400 == 400)
    }

    static func witnessState(_ dir: String) throws -> WitnessState { try WitnessState.load(dataDirectory: dir) }

    static func get(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }
}
