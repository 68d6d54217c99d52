import AuditSealCore

/// Makes a mutated store file carry the checks a crafted one would carry. A CRC, a check value or
/// a signature stops a random mutation at the first check, so without this the fuzzer never
/// reaches what lies behind it: an attacker who writes the file computes them (and one who holds
/// the signing key signs it). The write-ahead target reads each input raw and resealed; the
/// verifier target reseals the manifest or checkpoint it replaced in half its modes.
enum Resealing {
    static let magic = Array("ASWAL003".utf8)
    static let uncheckedMarkMagic = Array("ASWAL002".utf8)

    /// A write-ahead segment with its header CRC and the check value of every whole record
    /// recomputed (docs/FORMAT.md §4); lengths, indexes and everything else are left as they are.
    static func writeAhead(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        guard bytes.count >= 16, [magic, uncheckedMarkMagic].contains(Array(bytes.prefix(8))) else { return bytes }
        let markChecked = Array(bytes.prefix(8)) == magic
        let headerLength = Int(be32(bytes, 8))
        guard headerLength <= bytes.count - 16 else { return bytes }
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[16..<(16 + headerLength)])) }
        put32(crc, into: &bytes, at: 12)
        let sha = SHA256()
        var offset = 16 + headerLength
        while offset + 16 <= bytes.count {
            let word = be32(bytes, offset)
            let length = Int(word & 0x7fff_ffff)
            guard length <= bytes.count - offset - 16 else { break }
            let leaf = bytes.withUnsafeBytes { MerkleHash.leaf(UnsafeRawBufferPointer(rebasing: $0[(offset + 16)..<(offset + 16 + length)]), using: sha) }
            // Every bit of a backfilled record's check value is inverted (docs/FORMAT.md §4).
            let check = be32(leaf.bytes, 0) ^ (markChecked && word & 0x8000_0000 != 0 ? 0xFFFF_FFFF : 0)
            put32(check, into: &bytes, at: offset + 4)
            offset += 16 + length
        }
        return bytes
    }

    /// The `.manifest.sig` file for manifest bytes: base64 of the Ed25519 signature, a newline.
    static func manifestSignature(_ manifest: [UInt8], key: Ed25519PrivateKey) -> [UInt8] {
        guard let signature = try? key.signature(for: manifest) else { return [] }
        return Array((Base64.encode(signature) + "\n").utf8)
    }

    /// A checkpoint note signed again: its body (up to the first blank line) under a signature line
    /// named by its first line, as `Checkpoint.signedNote` writes one, in place of the old one; the
    /// note's other signature lines (witness cosignatures) follow it.
    static func checkpoint(_ note: [UInt8], key: Ed25519PrivateKey) -> [UInt8] {
        Array(checkpoint(String(decoding: note, as: UTF8.self), key: key).utf8)
    }

    static func checkpoint(_ text: String, key: Ed25519PrivateKey) -> String {
        let split = text.range(of: "\n\n")
        let body = split.map { String(text[..<$0.lowerBound]) + "\n" } ?? text
        // Keep the other signers' lines (witness cosignatures), not the old log signature.
        let name = origin(of: body)
        let others = split.map { text[$0.upperBound...].split(separator: "\n").filter { !$0.hasPrefix("\u{2014} \(name) ") }.map { $0 + "\n" }.joined() } ?? ""
        guard let line = try? Checkpoint.signatureLine(body: body, name: name, key: key) else { return text }
        return body + "\n" + line + others
    }

    /// The note's first line: the key name its log signature goes under.
    static func origin(of body: String) -> String { String(body.prefix { $0 != "\n" }) }

    /// Whether a resealed note's signature line must verify: its name is printable ASCII without
    /// spaces (a signature line is split at spaces), so a note with such an origin that fails its
    /// log signature after resealing is the harness's error.
    static func signatureMustHold(_ note: String) -> Bool {
        let name = origin(of: note)
        return !name.isEmpty && name.utf8.allSatisfy { (0x21...0x7e).contains($0) }
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func put32(_ v: UInt32, into b: inout [UInt8], at i: Int) {
        for k in 0..<4 { b[i + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * k)) }
    }
}
