import AuditSealCore
import Crypto
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// HPKE (RFC 9180) as the vault uses it: base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
/// ChaCha20-Poly1305, info "auditseal-vault/v1"; the record's commitments are the associated data.
public enum VaultCrypto {
    static let suite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    static let info = Data("auditseal-vault/v1".utf8)

    /// A record of `values` sealed to every key.
    public static func seal(_ values: [RedactedValue], to keys: [Curve25519.KeyAgreement.PublicKey]) throws -> VaultRecord {
        var record = VaultRecord(commitments: values.map(\.commitment.hex), recipients: [])
        let plaintext = try StableJSON.encode(VaultRecord.Plaintext(openings: values.map(\.opening)))
        for key in keys {
            var sender = try HPKE.Sender(recipientKey: key, ciphersuite: suite, info: info)
            let ciphertext = try sender.seal(plaintext, authenticating: record.associatedData)
            record.recipients.append(.init(keyID: AuditorKeys.keyID(key), enc: sender.encapsulatedKey.base64EncodedString(),
                                           ciphertext: ciphertext.base64EncodedString()))
        }
        return record
    }

    /// The openings of a record, decrypted with an auditor's private key; nil when the record was
    /// not sealed to this key. Throws when it was and does not decrypt (a changed record).
    public static func open(_ record: VaultRecord, with key: Curve25519.KeyAgreement.PrivateKey) throws -> [VaultRecord.Opening]? {
        let id = AuditorKeys.keyID(key.publicKey)
        guard let mine = record.recipients.first(where: { $0.keyID == id }) else { return nil }
        guard let enc = Data(base64Encoded: mine.enc), let ciphertext = Data(base64Encoded: mine.ciphertext) else {
            throw AuditSealError(.crypto, "a vault record for key \(id) is not base64")
        }
        var recipient = try HPKE.Recipient(privateKey: key, ciphersuite: suite, info: info, encapsulatedKey: enc)
        let plaintext = try recipient.open(ciphertext, authenticating: record.associatedData)
        return try StableJSON.decode(VaultRecord.Plaintext.self, from: Array(plaintext)).openings
    }
}

/// Appends vault records to `DATA_DIR/vault/<started>-<pid>-<n>.vault.open` and makes them durable
/// before the batch they belong to is appended (so before its 200). A file is closed (renamed to
/// `.vault`, when it is complete and may be shipped) after 64 MiB, after an hour, at the stop, and
/// at the next start for one a crash left open. Encryption happens before the write: no plaintext
/// value reaches the disk.
public final class VaultWriter: Sendable {
    struct State {
        var fd: Int32 = -1
        var path = ""
        var size = 0
        var opened = Date.distantPast
        var files = 0
    }

    public static let openSuffix = ".vault.open"
    let directory: String
    let maxFileBytes: Int
    let maxFileAge: TimeInterval
    let keys: [Curve25519.KeyAgreement.PublicKey]
    private let state = Locked(State())

    public init(directory: String, auditorKeys: [Curve25519.KeyAgreement.PublicKey], maxFileBytes: Int = 64 << 20,
                maxFileAge: TimeInterval = 3600) throws {
        self.directory = directory
        self.keys = auditorKeys
        self.maxFileBytes = maxFileBytes
        self.maxFileAge = maxFileAge
        try FileIO.makeDirectories(directory)
        // Files a crash left open are complete up to their last synced line: close them.
        for name in try FileIO.list(directory) where name.hasSuffix(Self.openSuffix) {
            let path = directory + "/" + name
            guard rename(path, String(path.dropLast(5))) == 0 else { throw AuditSealError.io("cannot close \(path)", errno: errno) }
        }
        try FileIO.syncDirectory(directory)
    }

    deinit { state.withLock { if $0.fd >= 0 { Glibc.close($0.fd) } } }

    /// Seals the values of one batch's events into one record (one HPKE encapsulation per key and
    /// batch: X25519 costs about 50 µs an operation, too much per event), appends it as one line,
    /// then fdatasyncs.
    public func write(_ events: [[RedactedValue]]) throws {
        let values = events.flatMap { $0 }
        guard !keys.isEmpty, !values.isEmpty else { return }
        var bytes = try StableJSON.encode(try VaultCrypto.seal(values, to: keys))
        bytes.append(0x0a)
        try state.withLock { s in
            if s.fd >= 0 && (s.size >= maxFileBytes || Date().timeIntervalSince(s.opened) >= maxFileAge) { try closeFile(&s) }
            if s.fd < 0 {
                s.files += 1
                let stamp = Timestamp.format(Date()).replacing(":", with: "").replacing("-", with: "")
                s.path = directory + "/" + stamp.prefix(15) + "Z-\(getpid())-\(s.files)" + Self.openSuffix
                s.fd = open(s.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
                guard s.fd >= 0 else { throw AuditSealError.io("cannot create \(s.path)", errno: errno) }
                s.size = 0
                s.opened = Date()
                try FileIO.syncDirectory(directory)
            }
            do {
                try bytes.withUnsafeBytes { try FileIO.writeAll(fd: s.fd, $0, path: s.path) }
                try FileIO.sync(fd: s.fd, path: s.path)
            } catch {
                // What the kernel kept of this file is unknown (a torn line, perhaps): the next
                // write starts a new file, so no record is ever glued to a torn one.
                try? closeFile(&s)
                throw error
            }
            s.size += bytes.count
        }
    }

    /// Closes the open file (at the stop): it becomes `.vault`, ready to ship.
    public func close() throws {
        try state.withLock { try closeFile(&$0) }
    }

    private func closeFile(_ s: inout State) throws {
        guard s.fd >= 0 else { return }
        Glibc.close(s.fd)
        s.fd = -1
        guard rename(s.path, String(s.path.dropLast(5))) == 0 else { throw AuditSealError.io("cannot close \(s.path)", errno: errno) }
        try FileIO.syncDirectory(directory)
    }
}
