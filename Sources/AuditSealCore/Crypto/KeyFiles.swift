import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes Ed25519 keys as PEM files (PKCS#8 private keys, SubjectPublicKeyInfo public
/// keys), the same files `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write.
public enum KeyFiles {
    // DER prefixes of the fixed-size Ed25519 structures (RFC 8410).
    private static let pkcs8Prefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    private static let spkiPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// PEM text of a private key.
    public static func privateKeyPEM(_ key: Ed25519PrivateKey) -> String {
        pem(label: "PRIVATE KEY", der: pkcs8Prefix + key.seedBytes)
    }

    /// PEM text of a public key.
    public static func publicKeyPEM(_ key: Ed25519PublicKey) -> String {
        pem(label: "PUBLIC KEY", der: spkiPrefix + key.rawRepresentation)
    }

    /// Parses a PEM private key.
    public static func parsePrivateKey(pem text: String) throws -> Ed25519PrivateKey {
        let der = try derBody(of: text, label: "PRIVATE KEY")
        guard der.count == 48, Array(der.prefix(16)) == pkcs8Prefix else {
            throw AuditSealError.keys("not an Ed25519 PKCS#8 private key")
        }
        return try Ed25519PrivateKey(seed: Array(der.suffix(32)))
    }

    /// Parses a PEM public key.
    public static func parsePublicKey(pem text: String) throws -> Ed25519PublicKey {
        let der = try derBody(of: text, label: "PUBLIC KEY")
        guard der.count == 44, Array(der.prefix(12)) == spkiPrefix else {
            throw AuditSealError.keys("not an Ed25519 SubjectPublicKeyInfo public key")
        }
        return try Ed25519PublicKey(rawRepresentation: Array(der.suffix(32)))
    }

    /// Writes a new key pair: the private key at path (mode 0600, refusing to overwrite) and the
    /// public key at path + ".pub".
    public static func generate(at path: String) throws -> Ed25519PrivateKey {
        let key = try Ed25519PrivateKey.generate()
        try FileIO.writeNew(path: path, bytes: Array(privateKeyPEM(key).utf8), mode: 0o600)
        try FileIO.writeNew(path: path + ".pub", bytes: Array(publicKeyPEM(key.publicKey).utf8), mode: 0o644)
        return key
    }

    /// Loads a private key file, refusing one that group or others can read.
    public static func loadPrivateKey(path: String) throws -> Ed25519PrivateKey {
        var st = stat()
        guard stat(path, &st) == 0 else { throw AuditSealError.io("cannot read signing key \(path)", errno: errno) }
        if st.st_mode & 0o077 != 0 {
            throw AuditSealError.keys("signing key \(path) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); run chmod 600 \(path)")
        }
        let bytes = try FileIO.readAll(path: path)
        return try parsePrivateKey(pem: String(decoding: bytes, as: UTF8.self))
    }

    /// Loads a public key file.
    public static func loadPublicKey(path: String) throws -> Ed25519PublicKey {
        let bytes = try FileIO.readAll(path: path)
        return try parsePublicKey(pem: String(decoding: bytes, as: UTF8.self))
    }

    private static func pem(label: String, der: [UInt8]) -> String {
        "-----BEGIN \(label)-----\n\(Base64.encode(der))\n-----END \(label)-----\n"
    }

    private static func derBody(of text: String, label: String) throws -> [UInt8] {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let b = text.firstRange(of: begin), let e = text.firstRange(of: end), b.upperBound <= e.lowerBound else {
            throw AuditSealError.keys("no \(begin) block")
        }
        let body = text[b.upperBound..<e.lowerBound].filter { !$0.isWhitespace }
        guard let der = Base64.decode(String(body)) else { throw AuditSealError.keys("invalid base64 in PEM") }
        return der
    }
}
