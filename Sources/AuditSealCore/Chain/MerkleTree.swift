/// RFC 6962 Merkle tree hashing (section 2.1), as Certificate Transparency and Go's sumdb `tlog` use it.
public enum MerkleHash {
    /// The leaf hash: SHA-256(0x00 || data) (RFC 6962 §2.1, "MTH({d(0)})").
    @inline(__always)
    public static func leaf(_ data: UnsafeRawBufferPointer, using sha: SHA256) -> SHA256Digest {
        withUnsafeBytes(of: UInt8(0)) { sha.hash($0, data) }
    }

    /// The interior node hash: SHA-256(0x01 || left || right) (RFC 6962 §2.1).
    @inline(__always)
    public static func node(_ left: SHA256Digest, _ right: SHA256Digest, using sha: SHA256) -> SHA256Digest {
        withUnsafeBytes(of: UInt8(1)) { one in
            left.withUnsafeBytes { l in right.withUnsafeBytes { r in sha.hash(one, l, r) } }
        }
    }

    /// The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1).
    public static let emptyRoot = SHA256.digest([UInt8]())

    /// The root of a tree over the given leaf hashes, computed recursively (RFC 6962 §2.1); for tests
    /// and small trees.
    public static func root(ofLeaves leaves: ArraySlice<SHA256Digest>, using sha: SHA256) -> SHA256Digest {
        if leaves.isEmpty { return emptyRoot }
        if leaves.count == 1 { return leaves.first! }
        var k = 1
        while k << 1 < leaves.count { k <<= 1 }
        let split = leaves.startIndex + k
        return node(root(ofLeaves: leaves[..<split], using: sha), root(ofLeaves: leaves[split...], using: sha), using: sha)
    }
}

/// The right edge of an RFC 6962 Merkle tree: one hash per perfect subtree, largest first, so that
/// appending a leaf costs on average one node hash and the root costs at most log2(n) hashes.
/// This is the "compact range" [0, size) of transparency logs.
public struct CompactRange: Sendable, Equatable {
    /// Number of leaves.
    public private(set) var size: UInt64
    /// Roots of the perfect subtrees covering [0, size), largest (leftmost) first.
    public private(set) var hashes: [SHA256Digest]

    /// The empty tree.
    public init() {
        size = 0
        hashes = []
    }

    /// A tree edge restored from a manifest; fails when the hash count does not match the size.
    public init?(size: UInt64, hashes: [SHA256Digest]) {
        guard size.nonzeroBitCount == hashes.count else { return nil }
        self.size = size
        self.hashes = hashes
    }

    /// Appends a leaf hash.
    @inline(__always)
    public mutating func append(_ leaf: SHA256Digest, using sha: SHA256) {
        var h = leaf
        var s = size
        while s & 1 == 1 {
            h = MerkleHash.node(hashes.removeLast(), h, using: sha)
            s >>= 1
        }
        hashes.append(h)
        size += 1
    }

    /// Appends a leaf hash and reports every interior node the append completes (level >= 1):
    /// the perfect subtrees whose last leaf this is, smallest first.
    @inline(__always)
    public mutating func append(_ leaf: SHA256Digest, using sha: SHA256, formed: (_ level: Int, _ hash: SHA256Digest) -> Void) {
        var h = leaf
        var s = size
        var level = 0
        while s & 1 == 1 {
            h = MerkleHash.node(hashes.removeLast(), h, using: sha)
            s >>= 1
            level += 1
            formed(level, h)
        }
        hashes.append(h)
        size += 1
    }

    /// The tree's root hash (RFC 6962 MTH).
    public func root(using sha: SHA256) -> SHA256Digest {
        guard var r = hashes.last else { return MerkleHash.emptyRoot }
        for h in hashes.dropLast().reversed() { r = MerkleHash.node(h, r, using: sha) }
        return r
    }
}
