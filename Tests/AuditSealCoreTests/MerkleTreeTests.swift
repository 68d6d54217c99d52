import AuditSealCore
import Testing

/// RFC 6962 test vectors from Certificate Transparency's reference implementation (also used by
/// transparency-dev/merkle and Go's sumdb tests): leaves and the root of every prefix.
@Suite struct MerkleTreeTests {
    static let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    @Test func compactRangeRootsMatchCertificateTransparencyVectors() {
        let sha = SHA256()
        var tree = CompactRange()
        #expect(tree.root(using: sha).hex == Self.roots[0])
        for (i, leafHex) in Self.leaves.enumerated() {
            let leaf = Hex.decode(leafHex)!.withUnsafeBytes { MerkleHash.leaf($0, using: sha) }
            tree.append(leaf, using: sha)
            #expect(tree.size == UInt64(i + 1))
            #expect(tree.root(using: sha).hex == Self.roots[i + 1], "size \(i + 1)")
        }
    }

    @Test func compactRangeAgreesWithTheRecursiveDefinitionForEverySizeTo300() {
        let sha = SHA256()
        var leaves = [SHA256Digest]()
        var tree = CompactRange()
        for i in 0..<300 {
            let leaf = [UInt8(i & 0xff), UInt8(i >> 8)].withUnsafeBytes { MerkleHash.leaf($0, using: sha) }
            leaves.append(leaf)
            tree.append(leaf, using: sha)
            #expect(tree.root(using: sha) == MerkleHash.root(ofLeaves: leaves[...], using: sha))
            #expect(tree.hashes.count == (i + 1).nonzeroBitCount)
        }
        #expect(CompactRange(size: 3, hashes: [leaves[0]]) == nil)
    }
}
