import AuditSealCore
import Crypto
import FoundationEssentials

/// An auditor's X25519 key pair, as PEM files OpenSSL also reads and writes
/// (`openssl genpkey -algorithm X25519`): SubjectPublicKeyInfo and PKCS #8, OID 1.3.101.110.
public enum AuditorKeys {
    public typealias PrivateKey = Curve25519.KeyAgreement.PrivateKey
    public typealias PublicKey = Curve25519.KeyAgreement.PublicKey
    static let publicPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]
    static let privatePrefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]

    /// The key ID vault records name: hex SHA-256 of the raw 32-byte public key.
    public static func keyID(_ key: Curve25519.KeyAgreement.PublicKey) -> String {
        SHA256.digest(Array(key.rawRepresentation)).hex
    }

    public static func publicPEM(_ key: Curve25519.KeyAgreement.PublicKey) -> String {
        pem("PUBLIC KEY", publicPrefix + Array(key.rawRepresentation))
    }

    public static func privatePEM(_ key: Curve25519.KeyAgreement.PrivateKey) -> String {
        pem("PRIVATE KEY", privatePrefix + Array(key.rawRepresentation))
    }

    public static func loadPublic(path: String) throws -> Curve25519.KeyAgreement.PublicKey {
        let der = try decodePEM(path: path, label: "PUBLIC KEY")
        guard der.count == publicPrefix.count + 32, Array(der.prefix(publicPrefix.count)) == publicPrefix else {
            throw AuditSealError(.keys, "\(path) is not an X25519 public key (auditseal keygen --auditor writes one)")
        }
        return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: der.suffix(32))
    }

    public static func loadPrivate(path: String) throws -> Curve25519.KeyAgreement.PrivateKey {
        let der = try decodePEM(path: path, label: "PRIVATE KEY")
        guard der.count == privatePrefix.count + 32, Array(der.prefix(privatePrefix.count)) == privatePrefix else {
            throw AuditSealError(.keys, "\(path) is not an X25519 private key (auditseal keygen --auditor writes one)")
        }
        return try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: der.suffix(32))
    }

    /// Writes a new key pair: the private key to `path` (mode 0600, never over an existing file),
    /// the public key to `path.pub`. Returns the key ID.
    public static func generate(at path: String) throws -> String {
        guard !FileIO.exists(path), !FileIO.exists(path + ".pub") else {
            throw AuditSealError(.usage, "\(path) or \(path).pub exists; keys are never overwritten")
        }
        let key = PrivateKey()
        try FileIO.writeAtomically(path: path, bytes: Array(privatePEM(key).utf8), mode: 0o600)
        try FileIO.writeAtomically(path: path + ".pub", bytes: Array(publicPEM(key.publicKey).utf8))
        return keyID(key.publicKey)
    }

    static func pem(_ label: String, _ der: [UInt8]) -> String {
        "-----BEGIN \(label)-----\n" + Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed]) + "\n-----END \(label)-----\n"
    }

    static func decodePEM(path: String, label: String) throws -> [UInt8] {
        let text = String(decoding: try FileIO.readAll(path: path), as: UTF8.self)
        guard let begin = text.firstRange(of: "-----BEGIN \(label)-----"), let end = text.firstRange(of: "-----END \(label)-----"),
              begin.upperBound <= end.lowerBound,
              let der = Data(base64Encoded: text[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }) else {
            throw AuditSealError(.keys, "\(path) holds no PEM \(label)")
        }
        return Array(der)
    }
}
