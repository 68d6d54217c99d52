/// RFC 9162 §2.1.3 inclusion proofs and §2.1.4 consistency proofs over RFC 6962 trees: generation
/// from any source of subtree hashes, and verification exactly as the RFC's algorithms state them.
public enum MerkleProof {
    /// Why a proof did not verify.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: Generation

    /// The hash of the leaves [range) of the tree: MTH(D[range]) in RFC 6962 §2.1.
    public typealias SubtreeHash = (_ range: Range<UInt64>) throws -> SHA256Digest

    /// The largest power of two smaller than n (n >= 2): RFC 6962's split point k.
    @inline(__always) static func split(_ n: UInt64) -> UInt64 {
        var k: UInt64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// PATH(m, D[0:n]) of RFC 6962 §2.1.1, leaf to root: the audit path of leaf `index` in the tree
    /// of `size` leaves. Every element is a subtree hash asked of `hash`.
    public static func inclusionPath(index: UInt64, size: UInt64, hash: SubtreeHash) throws -> [SHA256Digest] {
        guard index < size else { throw Failure("leaf index \(index) is not below tree size \(size)") }
        var path = [SHA256Digest]()
        // Walk down from the root, collecting siblings; the audit path lists them bottom-up.
        var lo: UInt64 = 0
        var hi = size
        while hi - lo > 1 {
            let k = split(hi - lo)
            if index < lo + k {
                path.append(try hash((lo + k)..<hi))
                hi = lo + k
            } else {
                path.append(try hash(lo..<(lo + k)))
                lo += k
            }
        }
        return path.reversed()
    }

    /// PROOF(m, D[0:n]) of RFC 6962 §2.1.2: the consistency proof from the tree of `from` leaves to
    /// the tree of `to` leaves (empty when from == to or from == 0).
    public static func consistencyProof(from m: UInt64, to n: UInt64, hash: SubtreeHash) throws -> [SHA256Digest] {
        guard m <= n else { throw Failure("old size \(m) is larger than new size \(n)") }
        guard m > 0, m < n else { return [] }
        var proof = [SHA256Digest]()
        // SUBPROOF(m, D[lo:hi], b), iteratively: collect right-hand nodes, then the left part.
        var lo: UInt64 = 0
        var hi = n
        var complete = true  // b: whether the subtree [lo, lo + m') is a complete subtree of the old tree
        var mm = m
        var tail = [SHA256Digest]()
        while true {
            let size = hi - lo
            if mm == size {
                if !complete { proof.append(try hash(lo..<hi)) }
                break
            }
            let k = split(size)
            if mm <= k {
                tail.append(try hash((lo + k)..<hi))
                hi = lo + k
            } else {
                tail.append(try hash(lo..<(lo + k)))
                lo += k
                mm -= k
                complete = false
            }
        }
        return proof + tail.reversed()
    }

    // MARK: Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)

    /// The root an inclusion proof leads to, or a failure when the path has the wrong length.
    public static func rootFromInclusion(index: UInt64, size: UInt64, leaf: SHA256Digest, path: [SHA256Digest], using sha: SHA256) throws -> SHA256Digest {
        guard index < size else { throw Failure("leaf index \(index) is not below tree size \(size)") }
        var fn = index
        var sn = size - 1
        var r = leaf
        for p in path {
            if sn == 0 { throw Failure("audit path is longer than the tree is deep") }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r, using: sha)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = MerkleHash.node(r, p, using: sha)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw Failure("audit path is shorter than the tree is deep") }
        return r
    }

    /// Checks an inclusion proof against a tree head.
    public static func verifyInclusion(index: UInt64, size: UInt64, leaf: SHA256Digest, path: [SHA256Digest], root: SHA256Digest, using sha: SHA256) throws {
        let computed = try rootFromInclusion(index: index, size: size, leaf: leaf, path: path, using: sha)
        guard computed == root else { throw Failure("the audit path leads to root \(computed.hex), not the tree head's \(root.hex)") }
    }

    /// Checks a consistency proof between two tree heads.
    public static func verifyConsistency(from size1: UInt64, to size2: UInt64, root1: SHA256Digest, root2: SHA256Digest, proof: [SHA256Digest], using sha: SHA256) throws {
        guard size1 <= size2 else { throw Failure("old size \(size1) is larger than new size \(size2)") }
        if size1 == size2 {
            guard proof.isEmpty else { throw Failure("a proof between equal sizes must be empty") }
            guard root1 == root2 else { throw Failure("two tree heads of size \(size1) with different roots (a fork)") }
            return
        }
        if size1 == 0 {
            guard proof.isEmpty else { throw Failure("a proof from the empty tree must be empty") }
            return
        }
        guard !proof.isEmpty else { throw Failure("empty consistency proof between sizes \(size1) and \(size2)") }
        var path = proof[...]
        // If size1 is an exact power of two, prepend first_hash (the old root) to the path.
        if size1 & (size1 - 1) == 0 { path = ([root1] + proof)[...] }
        var fn = size1 - 1
        var sn = size2 - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path.removeFirst()
        var sr = fr
        for c in path {
            if sn == 0 { throw Failure("consistency proof is longer than needed") }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr, using: sha)
                sr = MerkleHash.node(c, sr, using: sha)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleHash.node(sr, c, using: sha)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw Failure("consistency proof is shorter than needed") }
        guard fr == root1 else { throw Failure("the proof does not reproduce the old root: the old tree is not a prefix of the new one") }
        guard sr == root2 else { throw Failure("the proof does not reproduce the new root: the new tree does not extend the old one") }
    }
}
