/// The per-node hash chain (docs/FORMAT.md, "Hash chain"):
///
///     genesis = SHA-256("auditseal/v1/genesis" || 0x00 || chainID)        chainID: 16 random bytes
///     h_i     = SHA-256("auditseal/v1/chain"   || 0x00 || h_{i-1} || uint64_be(i) || l_i)
///
/// where `l_i` is the RFC 6962 leaf hash of the stored line and `h_{-1}` is the genesis value.
public enum ChainHash {
    static let genesisTag = Array("auditseal/v1/genesis".utf8) + [0]
    static let chainTag = Array("auditseal/v1/chain".utf8) + [0]

    /// The genesis value of a chain.
    public static func genesis(chainID: [UInt8], using sha: SHA256) -> SHA256Digest {
        genesisTag.withUnsafeBytes { tag in chainID.withUnsafeBytes { sha.hash(tag, $0) } }
    }

    /// The chain hash of event `index` with leaf hash `leaf`, following `previous`.
    @inline(__always)
    public static func next(previous: SHA256Digest, index: UInt64, leaf: SHA256Digest, using sha: SHA256) -> SHA256Digest {
        // tag || prev || index || leaf, assembled on the stack: 19 + 32 + 8 + 32 = 91 bytes.
        var tail: (SHA256Digest, UInt64, SHA256Digest) = (previous, index.bigEndian, leaf)
        return chainTag.withUnsafeBytes { tag in
            withUnsafeBytes(of: &tail) { t in
                // The tuple is laid out without padding: 32 + 8 + 32.
                sha.hash(tag, UnsafeRawBufferPointer(rebasing: t[0..<72]))
            }
        }
    }
}

/// The state of a chain after some events: next index, chain head and Merkle tree edge.
public struct ChainState: Sendable, Equatable {
    /// The chain's 16-byte random ID.
    public let chainID: [UInt8]
    /// The index the next event will get (= events so far).
    public private(set) var nextIndex: UInt64
    /// The chain hash after the last event (the genesis value before the first).
    public private(set) var head: SHA256Digest
    /// The Merkle tree over every leaf so far.
    public private(set) var tree: CompactRange

    /// The state of a new chain.
    public init(chainID: [UInt8], using sha: SHA256) {
        self.chainID = chainID
        self.nextIndex = 0
        self.head = ChainHash.genesis(chainID: chainID, using: sha)
        self.tree = CompactRange()
    }

    /// A state restored from a manifest or write-ahead header.
    public init(chainID: [UInt8], nextIndex: UInt64, head: SHA256Digest, tree: CompactRange) {
        precondition(tree.size == nextIndex, "tree size must equal the chain length")
        self.chainID = chainID
        self.nextIndex = nextIndex
        self.head = head
        self.tree = tree
    }

    /// Appends one stored line; returns its leaf hash.
    @inline(__always) @discardableResult
    public mutating func append(line: UnsafeRawBufferPointer, using sha: SHA256) -> SHA256Digest {
        let leaf = MerkleHash.leaf(line, using: sha)
        append(leaf: leaf, using: sha)
        return leaf
    }

    /// Appends an event whose leaf hash is already known, collecting the tree nodes it completes.
    @inline(__always)
    public mutating func append(leaf: SHA256Digest, using sha: SHA256, nodes: inout TreeNodes.Collector) {
        head = ChainHash.next(previous: head, index: nextIndex, leaf: leaf, using: sha)
        tree.append(leaf, using: sha) { nodes.formed(level: $0, hash: $1) }
        nextIndex += 1
    }

    /// Appends an event whose leaf hash is already known.
    @inline(__always)
    public mutating func append(leaf: SHA256Digest, using sha: SHA256) {
        head = ChainHash.next(previous: head, index: nextIndex, leaf: leaf, using: sha)
        tree.append(leaf, using: sha)
        nextIndex += 1
    }
}

/// Leaf hashes of many lines at once. Leaves are independent, so large batches are split across
/// the cores; only the chain links and Merkle nodes that follow must run in order.
public enum LeafHasher {
    /// Below this many lines one thread is faster than handing work to others.
    static let parallelThreshold = 64

    /// The RFC 6962 leaf hash of every range of `lines`, in order.
    public static func leaves(of lines: UnsafeRawBufferPointer, ranges: [Range<Int>], using sha: SHA256) -> [SHA256Digest] {
        var out = [SHA256Digest](repeating: .zero, count: ranges.count)
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, ranges.count / parallelThreshold)
        if workers < 2 {
            for (i, r) in ranges.enumerated() { out[i] = MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: lines[r]), using: sha) }
            return out
        }
        out.withUnsafeMutableBufferPointer { result in
            let base = result.baseAddress!
            nonisolated(unsafe) let target = base
            nonisolated(unsafe) let source = lines
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let hasher = SHA256()
                var i = w * ranges.count / workers
                let end = (w + 1) * ranges.count / workers
                while i < end {
                    target[i] = MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: source[ranges[i]]), using: hasher)
                    i += 1
                }
            }
        }
        return out
    }
}

import FoundationEssentials
import Dispatch
