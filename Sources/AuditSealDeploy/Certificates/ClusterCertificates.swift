import AuditSealCore
import Crypto
import FoundationEssentials
import Glibc
import SwiftASN1
import X509

/// The certificates that connect one API server to its node's receiver over mutual TLS, and the
/// API server's webhook kubeconfig, kept in one directory:
///
/// | file | what | mode |
/// |---|---|---|
/// | `ca.crt`, `ca.key` | the CA that issues both leaves; the receiver's client CA | 0644, 0600 |
/// | `tls.crt`, `tls.key` | the receiver's server certificate (SANs: the server IP, `localhost`) | 0644, 0600 |
/// | `apiserver.crt`, `apiserver.key` | the API server's client certificate (CN `kube-apiserver`) | 0644, 0600 |
/// | `webhook-kubeconfig.yaml` | `--audit-webhook-config-file`, with the CA and client pair embedded | 0600 |
///
/// Running it again renews each leaf that is missing, expires within `renewWithin`, no longer
/// names the requested server IP, or was not issued by the CA in the directory; the CA is kept,
/// so neither side has to learn a new trust anchor. Every file is replaced atomically (written
/// to a temporary name, fsync'd, renamed), so a receiver watching `tls.crt`/`tls.key` picks the
/// new pair up without a restart. Keys are ECDSA P-256, signatures ECDSA-SHA256.
public struct ClusterCertificates: Sendable {
    /// What to generate.
    public struct Options: Sendable {
        public var directory: String
        public var serverIP: String = "127.0.0.1"
        public var port: Int = 8443
        public var path: String = "/v1/audit"
        /// Lifetime of the two leaf certificates.
        public var leafDays: Int = 365
        /// Lifetime of a newly created CA.
        public var caDays: Int = 3650
        /// Renew a leaf that expires within this many days.
        public var renewWithinDays: Int = 30
        /// Reissue both leaves now, whatever their state (the CA is still kept).
        public var renewNow = false
        /// The client certificate's common name (what `allowedClientCNs` must list).
        public var clientCommonName: String = "kube-apiserver"
        public var now: Date = Date()

        public init(directory: String) { self.directory = directory }
    }

    /// What a run did to each file.
    public struct Outcome: Sendable, Equatable {
        public var created: [String] = []
        public var renewed: [String] = []
        public var kept: [String] = []
    }

    public let options: Options

    public init(options: Options) { self.options = options }

    /// Creates or renews what is due; returns what changed.
    public func run() throws -> Outcome {
        let o = options
        guard o.leafDays > 0, o.caDays > 0, o.renewWithinDays >= 0 else { throw AuditSealError(.usage, "--days, --ca-days and --renew-within-days must be positive") }
        guard o.renewWithinDays < o.leafDays else { throw AuditSealError(.usage, "--renew-within-days (\(o.renewWithinDays)) must be less than --days (\(o.leafDays))") }
        guard let ipBytes = Self.ipAddressBytes(o.serverIP) else { throw AuditSealError(.usage, "--server-ip \(o.serverIP) is not an IPv4 or IPv6 address") }
        try FileIO.makeDirectories(o.directory)
        var outcome = Outcome()

        // The CA: reused when present, created when not.
        let ca: IssuedPair
        if FileIO.exists(path("ca.crt")) || FileIO.exists(path("ca.key")) {
            ca = try load("ca")
            guard ca.certificate.notValidAfter > o.now.addingTimeInterval(Self.days(o.renewWithinDays)) else {
                throw AuditSealError(.usage, "the CA in \(path("ca.crt")) expires on \(ca.certificate.notValidAfter); rotate it by hand (docs/OPERATIONS.md, \"Rotate the CA\")")
            }
            outcome.kept.append("ca.crt")
        } else {
            ca = try makeCA()
            try save(ca, as: "ca")
            outcome.created.append("ca.crt")
        }

        // The receiver's server certificate and the API server's client certificate.
        let serverSANs: [GeneralName] = [.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ipBytes))), .dnsName("localhost")]
        _ = try ensureLeaf(name: "tls", ca: ca, outcome: &outcome) { existing in
            (try? existing.extensions.subjectAlternativeNames.map(Array.init)) == serverSANs
        } make: { key in
            try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(serverSANs)
                SubjectKeyIdentifier(hash: key)
                AuthorityKeyIdentifier(keyIdentifier: try ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            }
        } subject: {
            try DistinguishedName { OrganizationName("auditseal"); CommonName("auditseal receiver") }
        }
        let client = try ensureLeaf(name: "apiserver", ca: ca, outcome: &outcome) { existing in
            existing.subject.description.contains("CN=\(o.clientCommonName)")
        } make: { key in
            try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.clientAuth])
                SubjectKeyIdentifier(hash: key)
                AuthorityKeyIdentifier(keyIdentifier: try ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            }
        } subject: {
            try DistinguishedName { OrganizationName("auditseal"); CommonName(o.clientCommonName) }
        }

        // The kubeconfig embeds the CA and the client pair: one file for the API server to read.
        let kubeconfig = WebhookKubeconfig(
            serverURL: "https://\(Self.urlHost(o.serverIP)):\(o.port)\(o.path)",
            caPEM: try ca.certificate.serializeAsPEM().pemString,
            clientCertificatePEM: try client.certificate.serializeAsPEM().pemString,
            clientKeyPEM: client.keyPEM).render()
        let kubeconfigPath = path("webhook-kubeconfig.yaml")
        let previous = (try? FileIO.readAll(path: kubeconfigPath)).map { String(decoding: $0, as: UTF8.self) }
        if previous != kubeconfig {
            try FileIO.writeAtomically(path: kubeconfigPath, bytes: Array(kubeconfig.utf8), mode: 0o600)
            if previous == nil { outcome.created.append("webhook-kubeconfig.yaml") } else { outcome.renewed.append("webhook-kubeconfig.yaml") }
        } else {
            outcome.kept.append("webhook-kubeconfig.yaml")
        }
        return outcome
    }

    // MARK: - Pieces

    /// A certificate with its private key.
    struct IssuedPair {
        var certificate: Certificate
        var key: P256.Signing.PrivateKey
        var keyPEM: String { key.pemRepresentation }
    }

    private func path(_ name: String) -> String { options.directory + "/" + name }

    private static func days(_ n: Int) -> TimeInterval { TimeInterval(n) * 86_400 }

    private func makeCA() throws -> IssuedPair {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { OrganizationName("auditseal"); CommonName("auditseal webhook CA") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: options.now.addingTimeInterval(-300), notValidAfter: options.now.addingTimeInterval(Self.days(options.caDays)),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return IssuedPair(certificate: certificate, key: key)
    }

    /// Keeps `name.crt`/`name.key` when they are present, issued by `ca`, still `fits` and not
    /// expiring within the renewal window; otherwise issues a new pair with a new key.
    private func ensureLeaf(name: String, ca: IssuedPair, outcome: inout Outcome,
                            fits: (Certificate) -> Bool,
                            make extensions: (Certificate.PublicKey) throws -> Certificate.Extensions,
                            subject: () throws -> DistinguishedName) throws -> IssuedPair {
        let existed = FileIO.exists(path(name + ".crt"))
        if existed, !options.renewNow, let current = try? load(name),
           current.certificate.issuer == ca.certificate.subject,
           ca.certificate.publicKey.isValidSignature(current.certificate.signature, for: current.certificate),
           current.certificate.publicKey == Certificate.PublicKey(current.key.publicKey),
           current.certificate.notValidAfter > options.now.addingTimeInterval(Self.days(options.renewWithinDays)),
           fits(current.certificate) {
            outcome.kept.append(name + ".crt")
            return current
        }
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: options.now.addingTimeInterval(-300), notValidAfter: options.now.addingTimeInterval(Self.days(options.leafDays)),
            issuer: ca.certificate.subject, subject: try subject(), signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try extensions(publicKey),
            issuerPrivateKey: .init(ca.key))
        let pair = IssuedPair(certificate: certificate, key: key)
        try save(pair, as: name)
        if existed { outcome.renewed.append(name + ".crt") } else { outcome.created.append(name + ".crt") }
        return pair
    }

    private func load(_ name: String) throws -> IssuedPair {
        do {
            let certificate = try Certificate(pemEncoded: String(decoding: try FileIO.readAll(path: path(name + ".crt")), as: UTF8.self))
            let key = try P256.Signing.PrivateKey(pemRepresentation: String(decoding: try FileIO.readAll(path: path(name + ".key")), as: UTF8.self))
            return IssuedPair(certificate: certificate, key: key)
        } catch let error as AuditSealError {
            throw error
        } catch {
            throw AuditSealError(.keys, "cannot read \(path(name + ".crt")) and \(path(name + ".key")) as an ECDSA P-256 certificate and key: \(error)")
        }
    }

    /// Key first, then certificate, each atomically: a reader sees the old pair, a new key with the
    /// old certificate for a moment (a failed reload, retried at the next change), or the new pair.
    private func save(_ pair: IssuedPair, as name: String) throws {
        try FileIO.writeAtomically(path: path(name + ".key"), bytes: Array(pair.keyPEM.utf8), mode: 0o600)
        try FileIO.writeAtomically(path: path(name + ".crt"), bytes: Array(try pair.certificate.serializeAsPEM().pemString.utf8), mode: 0o644)
    }

    /// The 4 or 16 bytes of an IP address literal, or nil.
    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func urlHost(_ ip: String) -> String { ip.contains(":") ? "[\(ip)]" : ip }
}
