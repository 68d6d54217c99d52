/// The body of a C2SP tlog-witness `add-checkpoint` request: `old <size>`, one base64 consistency
/// proof hash per line (at most 63), an empty line, then the signed checkpoint note.
public struct AddCheckpointRequest: Sendable, Equatable {
    public var oldSize: UInt64
    public var proof: [SHA256Digest]
    public var checkpoint: String

    public init(oldSize: UInt64, proof: [SHA256Digest], checkpoint: String) {
        self.oldSize = oldSize
        self.proof = proof
        self.checkpoint = checkpoint
    }

    public var body: String {
        "old \(oldSize)\n" + proof.map { Base64.encode($0.bytes) + "\n" }.joined() + "\n" + checkpoint
    }

    /// Parses a request body; throws a `malformedInput` error naming what is wrong (answer 400).
    public init(body: String) throws {
        guard let blank = body.firstRange(of: "\n\n") else { throw AuditSealError.malformed("no empty line between the proof and the checkpoint") }
        let head = body[..<blank.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = head.first, first.hasPrefix("old "), let old = UInt64(first.dropFirst(4)),
              String(old) == first.dropFirst(4) else {
            throw AuditSealError.malformed("the first line must be \"old <size>\" in decimal without leading zeroes")
        }
        guard head.count - 1 <= 63 else { throw AuditSealError.malformed("more than 63 consistency proof lines") }
        var proof = [SHA256Digest]()
        for line in head.dropFirst() {
            guard let bytes = Base64.decode(String(line)), let digest = SHA256Digest(bytes: bytes) else {
                throw AuditSealError.malformed("a consistency proof line is not a base64 SHA-256 hash")
            }
            proof.append(digest)
        }
        oldSize = old
        self.proof = proof
        checkpoint = String(body[blank.upperBound...])
    }
}
