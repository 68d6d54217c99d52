import FoundationEssentials

/// One line of a vault file (docs/FORMAT.md §12): the originals of one batch's redacted values,
/// encrypted with HPKE to each auditor key. The commitments are in the clear (they are in the
/// sealed line anyway): they say which markers the record opens, and are the ciphertext's
/// associated data, so a record cannot be moved to other markers.
public struct VaultRecord: Codable, Sendable, Equatable {
    public static let format = "auditseal-vault/v1"

    public var format: String
    /// Hex commitments, in the order the markers stand in the line.
    public var commitments: [String]
    public var recipients: [Recipient]

    public struct Recipient: Codable, Sendable, Equatable {
        /// Hex SHA-256 of the auditor's raw 32-byte X25519 public key.
        public var keyID: String
        /// Base64 HPKE encapsulated key and ciphertext.
        public var enc: String
        public var ciphertext: String

        public init(keyID: String, enc: String, ciphertext: String) {
            self.keyID = keyID
            self.enc = enc
            self.ciphertext = ciphertext
        }
    }

    public init(commitments: [String], recipients: [Recipient]) {
        self.format = Self.format
        self.commitments = commitments
        self.recipients = recipients
    }

    /// The associated data of every recipient's ciphertext: the commitments, each followed by "\n".
    public var associatedData: [UInt8] { Array(commitments.map { $0 + "\n" }.joined().utf8) }

    /// What a record encrypts: per redacted value, everything its commitment was computed from.
    public struct Opening: Codable, Sendable, Equatable {
        public var commitment: String
        public var rule: String
        /// `RedactionMarker.pathText` of the value's path.
        public var path: String
        /// Hex of the 32-byte salt.
        public var salt: String
        /// Base64 of the value's raw bytes as they stood in the line.
        public var raw: String

        public init(commitment: String, rule: String, path: String, salt: String, raw: String) {
            self.commitment = commitment
            self.rule = rule
            self.path = path
            self.salt = salt
            self.raw = raw
        }

        /// Whether the opening reproduces its commitment.
        public var reproducesCommitment: Bool {
            guard let saltBytes = Hex.decode(salt), let rawBytes = Data(base64Encoded: raw) else { return false }
            var input = RedactionMarker.domain
            input += saltBytes
            input += Array(path.utf8)
            input.append(0)
            input += Array(rawBytes)
            return SHA256.digest(input).hex == commitment
        }
    }

    public struct Plaintext: Codable, Sendable, Equatable {
        public var openings: [Opening]
        public init(openings: [Opening]) { self.openings = openings }
    }
}

/// Reads the vault files of a store: which commitments they hold (no key needed).
public enum VaultFiles {
    /// Every record in `directory`'s `*.vault` (and still open `*.vault.open`) files (a torn last line is skipped), with its file.
    public static func records(in directory: String) -> [(file: String, record: VaultRecord)] {
        guard let names = try? FileIO.list(directory) else { return [] }
        var out = [(String, VaultRecord)]()
        for name in names.sorted() where name.hasSuffix(".vault") || name.hasSuffix(".vault.open") {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { continue }
            for line in data.split(separator: UInt8(ascii: "\n")) {
                if let record = try? JSONDecoder().decode(VaultRecord.self, from: Data(line)), record.format == VaultRecord.format {
                    out.append((name, record))
                }
            }
        }
        return out
    }

    /// The commitments every record in `directory` opens.
    public static func commitments(in directory: String) -> Set<String> {
        Set(records(in: directory).flatMap(\.record.commitments))
    }
}
