import FoundationEssentials

/// A witness as a verifier knows it: its name and Ed25519 public key (C2SP tlog-cosignature,
/// signature type 0x04). Written as a C2SP verifier key: `<name>+<hex key ID>+<base64(0x04 || key)>`.
public struct WitnessKey: Sendable {
    public let name: String
    public let publicKey: Ed25519PublicKey

    public init(name: String, publicKey: Ed25519PublicKey) {
        self.name = name
        self.publicKey = publicKey
    }

    /// The signature type of timestamped Ed25519 cosignatures.
    public static let cosignatureType: UInt8 = 0x04

    /// SHA-256(name || "\n" || 0x04 || key)[:4].
    public var keyID: [UInt8] { Self.keyID(name: name, type: Self.cosignatureType, key: publicKey.rawRepresentation) }

    static func keyID(name: String, type: UInt8, key: [UInt8]) -> [UInt8] {
        Array(SHA256.digest(Array(name.utf8) + [0x0a, type] + key).bytes.prefix(4))
    }

    /// The C2SP verifier key string.
    public var verifierKey: String {
        "\(name)+\(Hex.encode(keyID))+\(Base64.encode([Self.cosignatureType] + publicKey.rawRepresentation))"
    }

    /// Parses a verifier key of type 0x04 and checks its key ID.
    public init(verifierKey: String) throws {
        let parts = verifierKey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].count == 8, let id = Hex.decode(String(parts[1])),
              let blob = Base64.decode(String(parts[2])), blob.count == 33 else {
            throw AuditSealError(.usage, "a witness key is <name>+<8 hex digits>+<base64 of 0x04 and the 32-byte Ed25519 key>, not \(verifierKey)")
        }
        guard blob[0] == Self.cosignatureType else {
            throw AuditSealError(.usage, "witness key \(parts[0]) has signature type 0x\(String(blob[0], radix: 16)), not 0x04 (timestamped Ed25519 cosignature)")
        }
        let name = String(parts[0])
        guard Self.keyID(name: name, type: blob[0], key: Array(blob[1...])) == id else {
            throw AuditSealError(.usage, "witness key \(name): the key ID \(parts[1]) does not match the name and key")
        }
        self.init(name: name, publicKey: try Ed25519PublicKey(rawRepresentation: Array(blob[1...])))
    }
}

/// C2SP tlog-cosignature/v1 over a checkpoint: `— <name> base64(keyID || u64be(timestamp) || sig)`,
/// the signature over "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint body.
public enum Cosignature {
    /// The signed message.
    public static func message(body: String, timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n\(body)".utf8)
    }

    /// A cosignature line (ending in "\n") by a witness key over a checkpoint body.
    public static func line(body: String, name: String, key: Ed25519PrivateKey, timestamp: UInt64) throws -> String {
        let signature = try key.signature(for: message(body: body, timestamp: timestamp))
        let id = WitnessKey(name: name, publicKey: key.publicKey).keyID
        var ts = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { ts[i] = UInt8(truncatingIfNeeded: timestamp >> UInt64(56 - 8 * i)) }
        return "\u{2014} \(name) \(Base64.encode(id + ts + signature))\n"
    }

    /// The timestamp of a valid cosignature by `witness` among the signature lines, or nil.
    public static func verify(lines: [String], body: String, witness: WitnessKey) -> UInt64? {
        let id = witness.keyID
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "\u{2014}", parts[1] == Substring(witness.name),
                  let blob = Base64.decode(String(parts[2])), blob.count == 76, Array(blob.prefix(4)) == id else { continue }
            let timestamp = blob[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard timestamp < 1 << 63 else { continue }
            if witness.publicKey.isValidSignature(Array(blob.suffix(64)), for: message(body: body, timestamp: timestamp)) { return timestamp }
        }
        return nil
    }
}

/// A signed note split into its body (ending in "\n") and its signature lines (without "\n").
public struct SignedNote: Sendable {
    public var body: String
    public var signatures: [String]

    public init(_ text: String) throws {
        guard let split = text.firstRange(of: "\n\n") else { throw AuditSealError.malformed("a signed note has a body, an empty line and signature lines") }
        body = String(text[..<split.lowerBound]) + "\n"
        signatures = text[split.upperBound...].split(separator: "\n").map(String.init)
        guard !signatures.isEmpty else { throw AuditSealError.malformed("a signed note needs at least one signature line") }
    }

    public var text: String { body + "\n" + signatures.map { $0 + "\n" }.joined() }

    /// Adds signature lines not already present.
    public mutating func add(_ lines: [String]) {
        for line in lines where !signatures.contains(line) { signatures.append(line) }
    }
}

/// How many witnesses must have cosigned, and which keys count.
public struct WitnessPolicy: Sendable {
    public var witnesses: [WitnessKey]
    public var quorum: Int

    public init(witnesses: [WitnessKey], quorum: Int) {
        self.witnesses = witnesses
        self.quorum = quorum
    }

    /// The witnesses (by name) whose valid cosignature is among the note's signature lines.
    public func cosigners(of note: SignedNote) -> [String] {
        witnesses.filter { Cosignature.verify(lines: note.signatures, body: note.body, witness: $0) != nil }.map(\.name)
    }

    /// Signature lines that claim to be by a configured witness but do not verify.
    public func invalidLines(of note: SignedNote) -> [String] {
        note.signatures.filter { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let w = witnesses.first(where: { Substring($0.name) == parts[1] }) else { return false }
            return Cosignature.verify(lines: [line], body: note.body, witness: w) == nil
        }
    }
}
