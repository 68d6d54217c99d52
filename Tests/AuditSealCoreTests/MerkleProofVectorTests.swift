import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Proofs checked against implementations that are not ours: the RFC 6962 reference tree of
/// Certificate Transparency (as transparency-dev/merkle's testonly/constants.go and
/// proof/verify_test.go state it), a real CT log's published tree heads and proofs, and C2SP's
/// signed-note, tlog-cosignature and tlog-witness examples.
@Suite struct MerkleProofVectorTests {
    static var sha: SHA256 { SHA256() }
    static func h(_ hex: String) -> SHA256Digest { SHA256Digest(hex: hex)! }
    static func b64(_ text: String) -> SHA256Digest { SHA256Digest(bytes: Base64.decode(text)!)! }

    // transparency-dev/merkle testonly.LeafInputs / RootHashes.
    static let leaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map { Hex.decode($0)! }
    static let roots = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4", "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c", "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"].map(h)
    // proof/verify_test.go inclusionProofs (leaf numbers are 1-based there) and consistencyProofs.
    static let inclusion: [(leaf: UInt64, size: UInt64, path: [String])] = [
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ]
    static let consistency: [(from: UInt64, to: UInt64, proof: [String])] = [
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    ]

    static var leafHashes: [SHA256Digest] { leaves.map { l in l.withUnsafeBytes { MerkleHash.leaf($0, using: sha) } } }
    static func subtree(_ r: Range<UInt64>) -> SHA256Digest { MerkleHash.root(ofLeaves: leafHashes[Int(r.lowerBound)..<Int(r.upperBound)], using: sha) }

    @Test func referenceInclusionProofsAreGeneratedAndVerified() throws {
        for v in Self.inclusion {
            let index = v.leaf - 1
            let generated = try MerkleProof.inclusionPath(index: index, size: v.size, hash: Self.subtree)
            #expect(generated.map(\.hex) == v.path, "inclusion \(v.leaf)/\(v.size)")
            let path = v.path.map(Self.h)
            try MerkleProof.verifyInclusion(index: index, size: v.size, leaf: Self.leafHashes[Int(index)], path: path, root: Self.roots[Int(v.size) - 1], using: Self.sha)
            // Corruptions of verify_test.go's kind: each must fail.
            let root = Self.roots[Int(v.size) - 1]
            let leaf = Self.leafHashes[Int(index)]
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyInclusion(index: index + 1, size: v.size, leaf: leaf, path: path, root: root, using: Self.sha) }
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyInclusion(index: index, size: v.size * 2, leaf: leaf, path: path, root: root, using: Self.sha) }
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyInclusion(index: index, size: v.size, leaf: leaf, path: path + [root], root: root, using: Self.sha) }
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyInclusion(index: index, size: v.size, leaf: leaf, path: Array(path.dropLast()), root: root, using: Self.sha) }
            for i in path.indices {
                var bad = path
                var bytes = bad[i].bytes
                bytes[0] ^= 8
                bad[i] = SHA256Digest(bytes: bytes)!
                #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyInclusion(index: index, size: v.size, leaf: leaf, path: bad, root: root, using: Self.sha) }
            }
        }
    }

    @Test func referenceConsistencyProofsAreGeneratedAndVerified() throws {
        for v in Self.consistency {
            let generated = try MerkleProof.consistencyProof(from: v.from, to: v.to, hash: Self.subtree)
            #expect(generated.map(\.hex) == v.proof, "consistency \(v.from)->\(v.to)")
            let r1 = Self.roots[Int(v.from) - 1], r2 = Self.roots[Int(v.to) - 1]
            let proof = v.proof.map(Self.h)
            try MerkleProof.verifyConsistency(from: v.from, to: v.to, root1: r1, root2: r2, proof: proof, using: Self.sha)
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyConsistency(from: v.from, to: v.to, root1: r2, root2: r1, proof: proof, using: Self.sha) }
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyConsistency(from: v.from, to: v.to, root1: r1, root2: r2, proof: Array(proof.dropLast()), using: Self.sha) }
            #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyConsistency(from: v.from + 1, to: v.to, root1: r1, root2: r2, proof: proof, using: Self.sha) }
        }
        // Every pair of sizes of the reference tree: generated proofs verify.
        for m in 1...8 { for n in m...8 {
            let p = try MerkleProof.consistencyProof(from: UInt64(m), to: UInt64(n), hash: Self.subtree)
            try MerkleProof.verifyConsistency(from: UInt64(m), to: UInt64(n), root1: Self.roots[m - 1], root2: Self.roots[n - 1], proof: p, using: Self.sha)
        } }
    }

    struct CTFixture: Decodable {
        struct STH: Decodable { var tree_size: UInt64; var sha256_root_hash: String }
        struct Entry: Decodable { var leaf_index: UInt64; var tree_size: UInt64; var leaf_input: String; var audit_path: [String] }
        var sth1: STH
        var sth2: STH
        var consistency: [String]
        var entry: Entry
    }

    @Test func aRealCTLogsPublishedProofsVerify() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixtures + "/transparency/ct-icarus-2017.json"))
        let f = try JSONDecoder().decode(CTFixture.self, from: data)
        let r1 = Self.b64(f.sth1.sha256_root_hash), r2 = Self.b64(f.sth2.sha256_root_hash)
        let proof = f.consistency.map(Self.b64)
        try MerkleProof.verifyConsistency(from: f.sth1.tree_size, to: f.sth2.tree_size, root1: r1, root2: r2, proof: proof, using: Self.sha)
        var bad = proof
        bad.swapAt(0, 1)
        #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyConsistency(from: f.sth1.tree_size, to: f.sth2.tree_size, root1: r1, root2: r2, proof: bad, using: Self.sha) }

        let leafInput = Base64.decode(f.entry.leaf_input)!
        let leaf = leafInput.withUnsafeBytes { MerkleHash.leaf($0, using: Self.sha) }
        #expect(f.entry.tree_size == f.sth2.tree_size)
        try MerkleProof.verifyInclusion(index: f.entry.leaf_index, size: f.entry.tree_size, leaf: leaf, path: f.entry.audit_path.map(Self.b64), root: r2, using: Self.sha)
        var changed = leafInput
        changed[changed.count / 2] ^= 1
        let other = changed.withUnsafeBytes { MerkleHash.leaf($0, using: Self.sha) }
        #expect(throws: MerkleProof.Failure.self) { try MerkleProof.verifyInclusion(index: f.entry.leaf_index, size: f.entry.tree_size, leaf: other, path: f.entry.audit_path.map(Self.b64), root: r2, using: Self.sha) }
    }

    @Test func signedNoteAndCosignatureFormatsMatchOtherImplementations() throws {
        // golang.org/x/mod/sumdb/note's documented example: key hash and signature of type 0x01.
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        let raw = Array(Base64.decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")!.dropFirst())
        let key = try Ed25519PublicKey(rawRepresentation: raw)
        #expect(Checkpoint.verifierKey(name: "PeterNeumann", publicKey: key) == vkey)
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
        let blob = Base64.decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")!
        #expect(Hex.encode(blob.prefix(4)) == "c74f20a3")
        #expect(key.isValidSignature(Array(blob.suffix(64)), for: Array(text.utf8)))
        #expect(!key.isValidSignature(Array(blob.suffix(64)), for: Array(text.replacingOccurrences(of: "problem", with: "Problem").utf8)))

        // A real witness's published verifier key (type 0x04), from transparency-dev/formats'
        // note_cosigv1_test.go: our key-ID derivation reproduces its key hash.
        let remora = try WitnessKey(verifierKey: "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
        #expect(Hex.encode(remora.keyID) == "da77ade7")
        #expect(remora.verifierKey == "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
        #expect(throws: AuditSealError.self) { try WitnessKey(verifierKey: "remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2") }
        // Its cosignature timestamp layout: key ID, then u64be time (1727964367 there).
        let sig = Base64.decode("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==")!
        #expect(sig.count == 76 && sig[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == 1727964367)

        // Round trip of our cosignature lines, and the message C2SP specifies.
        let witnessKey = try Ed25519PrivateKey.generate()
        let w = WitnessKey(name: "witness.example/w1", publicKey: witnessKey.publicKey)
        let body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        #expect(String(decoding: Cosignature.message(body: body, timestamp: 1679315147), as: UTF8.self) == "cosignature/v1\ntime 1679315147\n" + body)
        let line = try Cosignature.line(body: body, name: w.name, key: witnessKey, timestamp: 1679315147)
        #expect(Cosignature.verify(lines: [String(line.dropLast())], body: body, witness: w) == 1679315147)
        #expect(Cosignature.verify(lines: [String(line.dropLast())], body: body.replacingOccurrences(of: "20852163", with: "20852164"), witness: w) == nil)
        #expect(try WitnessKey(verifierKey: w.verifierKey).keyID == w.keyID)
    }

    @Test func theTlogWitnessExampleRequestParses() throws {
        // The example request body of https://c2sp.org/tlog-witness.
        let body = """
            old 20852014
            PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
            jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
            5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
            /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

            example.com/behind-the-sofa
            20852163
            CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

            — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=

            """
        let request = try AddCheckpointRequest(body: body)
        #expect(request.oldSize == 20852014)
        #expect(request.proof.count == 4)
        #expect(request.proof[0] == Self.b64("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw="))
        #expect(request.checkpoint.hasPrefix("example.com/behind-the-sofa\n20852163\n"))
        #expect(request.body == body)
        #expect(throws: AuditSealError.self) { try AddCheckpointRequest(body: "old 012\n\nx\n") }
        #expect(throws: AuditSealError.self) { try AddCheckpointRequest(body: "old 1\nnot-base64\n\nx\n") }
    }
}
