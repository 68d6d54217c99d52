import CAuditSealCrypto

/// An Ed25519 public key (32 raw bytes) that verifies signatures through libcrypto.
public final class Ed25519PublicKey: @unchecked Sendable {  // an immutable libcrypto EVP_PKEY: verification only reads it (OpenSSL documents that as thread-safe)
    private let key: OpaquePointer
    /// The raw 32-byte key.
    public let rawRepresentation: [UInt8]

    /// Creates a key from its 32 raw bytes.
    public init(rawRepresentation raw: [UInt8]) throws {
        guard raw.count == 32, let key = raw.withUnsafeBufferPointer({ auditseal_ed25519_from_public($0.baseAddress!) }) else {
            throw AuditSealError.keys("an Ed25519 public key is 32 bytes that libcrypto accepts")
        }
        self.key = key
        self.rawRepresentation = raw
    }

    deinit { auditseal_ed25519_free(key) }

    /// The key ID that manifests name: lowercase hex SHA-256 of the raw public key.
    public var keyID: String { SHA256.digest(rawRepresentation).hex }

    /// Whether signature is a valid Ed25519 signature of message by this key.
    public func isValidSignature<Message: ContiguousBytes>(_ signature: [UInt8], for message: Message) -> Bool {
        guard signature.count == 64 else { return false }
        return message.withUnsafeBytes { msg in
            signature.withUnsafeBufferPointer { sig in
                auditseal_ed25519_verify(key, msg.baseAddress, msg.count, sig.baseAddress!) == 1
            }
        }
    }
}

/// An Ed25519 private key (from a 32-byte seed) that signs through libcrypto.
public final class Ed25519PrivateKey: @unchecked Sendable {  // an immutable libcrypto EVP_PKEY; each signature uses its own EVP_MD_CTX
    private let key: OpaquePointer
    private let seed: [UInt8]
    /// The matching public key.
    public let publicKey: Ed25519PublicKey

    /// Creates a key from its 32-byte seed (RFC 8032's private key).
    public init(seed: [UInt8]) throws {
        guard seed.count == 32, let key = seed.withUnsafeBufferPointer({ auditseal_ed25519_from_seed($0.baseAddress!) }) else {
            throw AuditSealError.keys("an Ed25519 private key is a 32-byte seed")
        }
        self.key = key
        self.seed = seed
        var pub = [UInt8](repeating: 0, count: 32)
        guard pub.withUnsafeMutableBufferPointer({ auditseal_ed25519_public(key, $0.baseAddress!) }) == 1 else {
            auditseal_ed25519_free(key)
            throw AuditSealError.keys("libcrypto could not derive the Ed25519 public key")
        }
        self.publicKey = try Ed25519PublicKey(rawRepresentation: pub)
    }

    /// A new random key.
    public static func generate() throws -> Ed25519PrivateKey {
        try Ed25519PrivateKey(seed: SecureRandom.bytes(32))
    }

    deinit { auditseal_ed25519_free(key) }

    /// The 64-byte Ed25519 signature of message.
    public func signature<Message: ContiguousBytes>(for message: Message) throws -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: 64)
        let ok = message.withUnsafeBytes { msg in
            sig.withUnsafeMutableBufferPointer { auditseal_ed25519_sign(key, msg.baseAddress, msg.count, $0.baseAddress!) }
        }
        guard ok == 1 else { throw AuditSealError.crypto("libcrypto failed to produce an Ed25519 signature") }
        return sig
    }

    /// The seed, for writing the key file.
    var seedBytes: [UInt8] { seed }
}
