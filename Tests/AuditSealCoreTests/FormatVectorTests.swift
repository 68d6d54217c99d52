@testable import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// docs/FORMAT.md carries test vectors (a tiny chain, a signed manifest and a signed checkpoint);
/// these tests recompute every value from the inputs named there and compare.
@Suite struct FormatVectorTests {
    static let chainIDHex = "00112233445566778899aabbccddeeff"
    static let seedHex = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"  // RFC 8032 test 1
    static let witnessSeedHex = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"  // RFC 8032 test 2
    static let lines = [
        #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"11111111-1111-1111-1111-111111111111","stage":"ResponseComplete","verb":"get"}"#,
        #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"22222222-2222-2222-2222-222222222222","stage":"ResponseComplete","verb":"delete"}"#,
        #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"33333333-3333-3333-3333-333333333333","stage":"ResponseComplete","verb":"create"}"#,
    ]

    /// Every vector, computed by the code.
    static func computed() throws -> [(String, String)] {
        let sha = SHA256()
        let chainID = Hex.decode(chainIDHex)!
        var state = ChainState(chainID: chainID, using: sha)
        var out = [("chainID", chainIDHex), ("genesis", state.head.hex)]
        for (i, line) in lines.enumerated() {
            let leaf = Array(line.utf8).withUnsafeBytes { state.append(line: $0, using: sha) }
            out.append(("line\(i)", line))
            out.append(("leaf\(i)", leaf.hex))
            out.append(("chain\(i)", state.head.hex))
            out.append(("root\(i + 1)", state.tree.root(using: sha).hex))
        }
        var record = [UInt8]()
        Array(lines[0].utf8).withUnsafeBytes { WriteAheadFormat.appendRecordForVectors(index: 0, line: $0, to: &record) }
        out.append(("walRecord0Prefix", Hex.encode(record.prefix(16))))
        let key = try Ed25519PrivateKey(seed: Hex.decode(seedHex)!)
        out.append(("publicKey", Hex.encode(key.publicKey.rawRepresentation)))
        out.append(("keyID", key.publicKey.keyID))
        // gzip output depends on the zlib build, so the vector's file is the uncompressed JSON lines.
        let file = Array((lines.joined(separator: "\n") + "\n").utf8)
        let manifest = Manifest(
            format: Manifest.formatName, type: "segment", chainID: chainIDHex, node: "vector-node", sequence: 1,
            file: "000000000001.jsonl.gz", fileSize: file.count, fileSHA256: SHA256.digest(file).hex,
            leafHintsFile: "000000000001.leaves", leafHintsSHA256: SHA256.digest([UInt8]()).hex,
            eventCount: 3, firstIndex: 0, lastIndex: 2,
            chainHashBefore: ChainState(chainID: chainID, using: sha).head.hex, chainHashAfter: state.head.hex,
            treeSize: 3, treeRoot: state.tree.root(using: sha).hex, treeFrontier: state.tree.hashes.map(\.hex),
            firstEventTime: nil, lastEventTime: nil, previousManifestSHA256: nil,
            sealedAt: "2026-01-01T00:00:00.000000Z", heartbeatIntervalSeconds: 300, closing: true, keyID: key.publicKey.keyID)
        let bytes = try StableJSON.encode(manifest) + [0x0a]
        out.append(("manifest", String(decoding: bytes.dropLast(), as: UTF8.self)))
        out.append(("manifestSHA256", SHA256.digest(bytes).hex))
        out.append(("manifestSignature", Base64.encode(try key.signature(for: bytes))))
        let checkpoint = Checkpoint(origin: Checkpoint.origin(node: "vector-node", chainID: chainIDHex), treeSize: 3, rootHash: state.tree.root(using: sha))
        let note = try checkpoint.signedNote(with: key)
        for (i, line) in note.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            out.append(("checkpointLine\(i)", String(line)))
        }
        out.append(("noteVerifierKey", Checkpoint.verifierKey(name: checkpoint.origin, publicKey: key.publicKey)))
        let leaves = lines.map { l in Array(l.utf8).withUnsafeBytes { MerkleHash.leaf($0, using: sha) } }
        let subtree: (Range<UInt64>) -> SHA256Digest = { MerkleHash.root(ofLeaves: leaves[Int($0.lowerBound)..<Int($0.upperBound)], using: sha) }
        out.append(("inclusionPath1of3", try MerkleProof.inclusionPath(index: 1, size: 3, hash: subtree).map(\.hex).joined(separator: " ")))
        out.append(("consistency1to3", try MerkleProof.consistencyProof(from: 1, to: 3, hash: subtree).map(\.hex).joined(separator: " ")))
        out.append(("consistency2to3", try MerkleProof.consistencyProof(from: 2, to: 3, hash: subtree).map(\.hex).joined(separator: " ")))
        let positions = TreeNodes.positions(first: 0, count: 1000)
        out.append(("treeNodes1000", "\(positions.count) nodes at positions " + positions.map { "\($0.level)/\($0.index)" }.joined(separator: " ")))

        // The .nodes file of a first segment of 300 events whose lines are {"i":0} ... {"i":299}
        // (section 5.1: only subtrees of 256 leaves and more are kept, so three events keep none).
        var replay = ChainState(chainID: chainID, using: sha)
        var nodes = TreeNodes.Collector()
        for i in 0..<300 { _ = Array("{\"i\":\(i)}".utf8).withUnsafeBytes { replay.append(leaf: MerkleHash.leaf($0, using: sha), using: sha, nodes: &nodes) } }
        out.append(("nodesFile300", Hex.encode(nodes.bytes)))
        // A write-ahead segment holding the first line (section 4): header and one record.
        let walHeader = WriteAheadHeader(chainID: chainIDHex, firstIndex: 0, chainHashBefore: ChainState(chainID: chainID, using: sha).head.hex,
                                         treeFrontier: [], createdAt: "2026-01-01T00:00:00.000000Z")
        var wal = try WriteAheadFormat.encodeHeader(walHeader)
        Array(lines[0].utf8).withUnsafeBytes { WriteAheadFormat.appendRecordForVectors(index: 0, line: $0, to: &wal) }
        out.append(("walFile", Hex.encode(wal)))
        // The same segment manifest with event 1 marked backfilled (section 11), and the handover
        // heartbeat after it (section 7) naming the witness key below as the next signing key.
        var backfilled = manifest
        backfilled.backfilled = [[1, 1]]
        let backfilledBytes = try StableJSON.encode(backfilled) + [0x0a]
        out.append(("backfilledManifest", String(decoding: backfilledBytes.dropLast(), as: UTF8.self)))
        out.append(("backfilledManifestSignature", Base64.encode(try key.signature(for: backfilledBytes))))
        let witnessKey = try Ed25519PrivateKey(seed: Hex.decode(witnessSeedHex)!)
        var handover = Manifest(
            format: Manifest.formatName, type: "heartbeat", chainID: chainIDHex, node: "vector-node", sequence: 2,
            file: nil, fileSize: nil, fileSHA256: nil, leafHintsFile: nil, leafHintsSHA256: nil,
            eventCount: 0, firstIndex: nil, lastIndex: nil,
            chainHashBefore: state.head.hex, chainHashAfter: state.head.hex,
            treeSize: 3, treeRoot: state.tree.root(using: sha).hex, treeFrontier: state.tree.hashes.map(\.hex),
            firstEventTime: nil, lastEventTime: nil, previousManifestSHA256: SHA256.digest(backfilledBytes).hex,
            sealedAt: "2026-01-01T00:01:00.000000Z", heartbeatIntervalSeconds: 300, closing: false, keyID: key.publicKey.keyID)
        handover.nextKeyID = witnessKey.publicKey.keyID
        let handoverBytes = try StableJSON.encode(handover) + [0x0a]
        out.append(("handoverManifest", String(decoding: handoverBytes.dropLast(), as: UTF8.self)))
        out.append(("handoverManifestSignature", Base64.encode(try key.signature(for: handoverBytes))))
        // A witness's cosignature of the checkpoint above (section 6.1), at a fixed time.
        let witness = WitnessKey(name: "witness.example.com/w1", publicKey: witnessKey.publicKey)
        out.append(("witnessVerifierKey", witness.verifierKey))
        out.append(("cosignedMessageHex", Hex.encode(Cosignature.message(body: checkpoint.body, timestamp: 1_767_225_600))))
        let cosignature = try Cosignature.line(body: checkpoint.body, name: witness.name, key: witnessKey, timestamp: 1_767_225_600)
        out.append(("cosignatureLine", cosignature.hasSuffix("\n") ? String(cosignature.dropLast()) : cosignature))
        return out
    }

    /// The vectors block of docs/FORMAT.md: `name: value` lines between ```vectors and ```.
    static func documented() throws -> [(String, String)] {
        let text = String(decoding: try FileIO.readAll(path: TestSupport.packageRoot + "/docs/FORMAT.md"), as: UTF8.self)
        guard let start = text.range(of: "```vectors\n"), let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex) else { return [] }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), String(parts[1].dropFirst()))
        }
    }

    @Test func formatDocumentVectorsMatchTheCode() throws {
        let computed = try Self.computed()
        if ProcessInfo.processInfo.environment["AUDITSEAL_PRINT_VECTORS"] != nil {
            print("```vectors\n" + computed.map { "\($0.0): \($0.1)" }.joined(separator: "\n") + "\n```")
        }
        let documented = try Self.documented()
        #expect(documented.count == computed.count)
        for (doc, code) in zip(documented, computed) {
            #expect(doc.0 == code.0)
            #expect(doc.1 == code.1, "\(code.0)")
        }
    }

    @Test func theDocumentedCheckpointVerifiesAsASignedNote() throws {
        let doc = Dictionary(uniqueKeysWithValues: try Self.documented())
        let note = (0..<5).compactMap { doc["checkpointLine\($0)"] }.joined(separator: "\n") + "\n"
        let key = try Ed25519PublicKey(rawRepresentation: Hex.decode(doc["publicKey"] ?? "")!)
        let (checkpoint, _) = try Checkpoint.open(note: note, keys: [key])
        #expect(checkpoint.treeSize == 3)
        #expect(checkpoint.rootHash.hex == doc["root3"])
        let manifestBytes = Array(((doc["manifest"] ?? "") + "\n").utf8)
        #expect(key.isValidSignature(Base64.decode(doc["manifestSignature"] ?? "")!, for: manifestBytes))
        // The documented cosignature verifies under the documented witness key, at its time.
        let witness = try WitnessKey(verifierKey: doc["witnessVerifierKey"] ?? "")
        #expect(Cosignature.verify(lines: [doc["cosignatureLine"] ?? ""], body: checkpoint.body, witness: witness) == 1_767_225_600)
        // The handover and backfilled manifests are signed by the test-1 key and meet the structural rules.
        for (name, sequence) in [("handoverManifest", 2), ("backfilledManifest", 1)] {
            let bytes = Array(((doc[name] ?? "") + "\n").utf8)
            #expect(key.isValidSignature(Base64.decode(doc[name + "Signature"] ?? "")!, for: bytes), "\(name)")
            #expect(try StableJSON.decode(Manifest.self, from: bytes).structuralProblem(fileSequence: sequence) == nil, "\(name)")
        }
    }
}
