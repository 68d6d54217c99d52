/// A sealed segment's (or a heartbeat's) signed description (docs/FORMAT.md, "Manifests").
///
/// The file `<seq>.manifest.json` holds these fields as JSON; `<seq>.manifest.sig` holds the
/// base64 Ed25519 signature of that file's exact bytes. Manifests chain through
/// `previousManifestSHA256`.
public struct Manifest: Codable, Sendable, Equatable {
    /// A manifest file's bytes, decoded (the error names the type).
    public static func decode(_ bytes: [UInt8]) throws -> Manifest { try StableJSON.decode(Manifest.self, from: bytes) }

    /// "auditseal-manifest/v1".
    public var format: String
    /// "segment" or "heartbeat".
    public var type: String
    public var chainID: String
    public var node: String
    /// Position in the manifest chain, from 1, shared by segments and heartbeats.
    public var sequence: Int
    /// The gzip JSON-lines file's name, size and SHA-256 (segments only).
    public var file: String?
    public var fileSize: Int?
    public var fileSHA256: String?
    /// The leaf-hint file's name and SHA-256 (segments only): 8 bytes of each event's leaf hash.
    public var leafHintsFile: String?
    public var leafHintsSHA256: String?
    /// The tree-node index's name and SHA-256 (segments only): the hashes of the perfect subtrees of
    /// 256 leaves and up that complete in this segment (docs/FORMAT.md §5.1).
    public var treeNodesFile: String?
    public var treeNodesSHA256: String?
    public var eventCount: Int
    public var firstIndex: UInt64?
    public var lastIndex: UInt64?
    public var chainHashBefore: String
    public var chainHashAfter: String
    public var treeSize: UInt64
    public var treeRoot: String
    /// The Merkle tree's right edge after the last event (hex hashes, largest subtree first).
    public var treeFrontier: [String]
    public var firstEventTime: String?
    public var lastEventTime: String?
    /// The earliest and latest `stageTimestamp` of the segment's events (segments only; readers
    /// skip segments by them: arrival order is not time order).
    public var minEventTime: String?
    public var maxEventTime: String?
    /// The events of this segment that reconciliation backfilled from the API server's log file, as
    /// inclusive [first, last] index ranges in order (segments only; absent when none).
    public var backfilled: [[UInt64]]?
    /// SHA-256 of the previous manifest file's exact bytes; nil for sequence 1.
    public var previousManifestSHA256: String?
    public var sealedAt: String
    public var heartbeatIntervalSeconds: Int
    /// True on the manifest written at a clean shutdown (no further manifest is expected).
    public var closing: Bool
    public var keyID: String
    /// A key handover: the key that signs every later manifest (hex SHA-256 of its raw public
    /// key). From the next manifest on, `keyID`'s key is retired.
    public var nextKeyID: String?

    /// Creates a manifest from every field.
    public init(format: String, type: String, chainID: String, node: String, sequence: Int, file: String?, fileSize: Int?, fileSHA256: String?, leafHintsFile: String?, leafHintsSHA256: String?, eventCount: Int, firstIndex: UInt64?, lastIndex: UInt64?, chainHashBefore: String, chainHashAfter: String, treeSize: UInt64, treeRoot: String, treeFrontier: [String], firstEventTime: String?, lastEventTime: String?, previousManifestSHA256: String?, sealedAt: String, heartbeatIntervalSeconds: Int, closing: Bool, keyID: String) {
        self.format = format
        self.type = type
        self.chainID = chainID
        self.node = node
        self.sequence = sequence
        self.file = file
        self.fileSize = fileSize
        self.fileSHA256 = fileSHA256
        self.leafHintsFile = leafHintsFile
        self.leafHintsSHA256 = leafHintsSHA256
        self.eventCount = eventCount
        self.firstIndex = firstIndex
        self.lastIndex = lastIndex
        self.chainHashBefore = chainHashBefore
        self.chainHashAfter = chainHashAfter
        self.treeSize = treeSize
        self.treeRoot = treeRoot
        self.treeFrontier = treeFrontier
        self.firstEventTime = firstEventTime
        self.lastEventTime = lastEventTime
        self.previousManifestSHA256 = previousManifestSHA256
        self.sealedAt = sealedAt
        self.heartbeatIntervalSeconds = heartbeatIntervalSeconds
        self.closing = closing
        self.keyID = keyID
        self.nextKeyID = nil
    }

    public static let formatName = "auditseal-manifest/v1"

    /// The file name stem of a sequence number: 12 digits, zero-padded, so names sort in chain order.
    public static func stem(_ sequence: Int) -> String {
        let s = String(sequence)
        return String(repeating: "0", count: max(0, 12 - s.count)) + s
    }

    /// Parses a manifest file name's sequence number ("000000000007.manifest.json" -> 7).
    public static func sequence(ofFileName name: String) -> Int? {
        guard name.hasSuffix(".manifest.json") else { return nil }
        let stem = name.dropLast(".manifest.json".count)
        guard stem.count == 12, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(stem)
    }
}

/// A C2SP tlog-checkpoint signed as a C2SP signed-note with Ed25519
/// (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note).
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var treeSize: UInt64
    public var rootHash: SHA256Digest

    public init(origin: String, treeSize: UInt64, rootHash: SHA256Digest) {
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
    }

    /// The note body: origin, tree size and base64 root hash, each on its own line.
    public var body: String { "\(origin)\n\(treeSize)\n\(Base64.encode(rootHash.bytes))\n" }

    /// The checkpoint's origin line for a node's chain.
    public static func origin(node: String, chainID: String) -> String { "auditseal/\(node)/\(chainID)" }

    /// The signed-note key ID: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
    public static func noteKeyHash(name: String, publicKey: Ed25519PublicKey) -> [UInt8] {
        let input = Array(name.utf8) + [0x0a, 0x01] + publicKey.rawRepresentation
        return Array(SHA256.digest(input).bytes.prefix(4))
    }

    /// The verifier key string that note tooling accepts: `<name>+<hex key hash>+<base64(0x01 || key)>`.
    public static func verifierKey(name: String, publicKey: Ed25519PublicKey) -> String {
        "\(name)+\(Hex.encode(noteKeyHash(name: name, publicKey: publicKey)))+\(Base64.encode([0x01] + publicKey.rawRepresentation))"
    }

    /// The signed note: body, a blank line, and one signature line (key name = origin).
    public func signedNote(with key: Ed25519PrivateKey) throws -> String {
        body + "\n" + (try Checkpoint.signatureLine(body: body, name: origin, key: key))
    }

    /// One signed-note signature line over `body` under key name `name` (with its newline).
    public static func signatureLine(body: String, name: String, key: Ed25519PrivateKey) throws -> String {
        let signature = try key.signature(for: Array(body.utf8))
        let blob = noteKeyHash(name: name, publicKey: key.publicKey) + signature
        return "\u{2014} \(name) \(Base64.encode(blob))\n"
    }

    /// Parses a signed checkpoint note and checks a signature line by one of the keys.
    /// Returns the checkpoint and the key that signed it, or throws naming what is wrong.
    public static func open(note: String, keys: [Ed25519PublicKey]) throws -> (Checkpoint, Ed25519PublicKey) {
        guard let split = note.firstRange(of: "\n\n") else { throw AuditSealError.storage("checkpoint note has no signature block") }
        let text = String(note[..<split.lowerBound]) + "\n"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, let size = UInt64(lines[1]), let rootBytes = Base64.decode(String(lines[2])),
              let root = SHA256Digest(bytes: rootBytes) else {
            throw AuditSealError.storage("checkpoint body is not origin / size / root")
        }
        let checkpoint = Checkpoint(origin: String(lines[0]), treeSize: size, rootHash: root)
        let signatures = note[split.upperBound...].split(separator: "\n")
        for line in signatures {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "\u{2014}", parts[1] == Substring(checkpoint.origin),
                  let blob = Base64.decode(String(parts[2])), blob.count == 68 else { continue }
            for key in keys where Array(blob.prefix(4)) == noteKeyHash(name: checkpoint.origin, publicKey: key) {
                if key.isValidSignature(Array(blob.suffix(64)), for: Array(text.utf8)) { return (checkpoint, key) }
            }
        }
        throw AuditSealError.storage("no valid signature by a trusted key on checkpoint")
    }
}

import FoundationEssentials
