import AuditSealCore
import FoundationEssentials
import AuditSealYAML

/// Where an API server's /metrics is and how to authenticate to it: from a kubeconfig (its
/// current context's cluster and user), or given directly (URL, bearer token file, CA bundle), as
/// a DaemonSet's ServiceAccount would (a ClusterRole allowing `get` on the non-resource URL /metrics).
public struct APIServerEndpoint: Sendable, Equatable {
    /// A name for metrics and reports (default: the URL's host:port).
    public var name: String
    /// The metrics URL (…/metrics).
    public var url: String
    public var bearerToken: String?
    /// A file holding the token, read again at every request: a projected ServiceAccount token is
    /// rotated by the kubelet (hourly in the shipped DaemonSet), as client-go's tokenFile is re-read.
    public var bearerTokenFile: String?
    /// PEM bundles.
    public var caPEM: String?
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    public var insecureSkipTLSVerify = false

    public init(name: String, url: String, bearerToken: String? = nil, bearerTokenFile: String? = nil, caPEM: String? = nil,
                clientCertificatePEM: String? = nil, clientKeyPEM: String? = nil, insecureSkipTLSVerify: Bool = false) {
        self.name = name
        self.url = url
        self.bearerToken = bearerToken
        self.bearerTokenFile = bearerTokenFile
        self.caPEM = caPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
    }

    /// Reads a kubeconfig's current context (or the first one); relative file paths in it are
    /// taken from the kubeconfig's directory, as client-go does.
    public static func kubeconfig(_ path: String, name: String? = nil) throws -> APIServerEndpoint {
        let k = try Kubeconfig.load(path)
        let base = k.server.hasSuffix("/") ? String(k.server.dropLast()) : k.server
        return APIServerEndpoint(
            name: name ?? Self.hostPort(base), url: base + "/metrics", bearerToken: k.token, bearerTokenFile: k.tokenFile,
            caPEM: k.caPEM, clientCertificatePEM: k.clientCertificatePEM, clientKeyPEM: k.clientKeyPEM,
            insecureSkipTLSVerify: k.insecureSkipTLSVerify)
    }

    /// The bearer token to send now: the given one, or the token file's current content.
    public func currentToken() throws -> String? {
        if let bearerToken { return bearerToken }
        guard let bearerTokenFile else { return nil }
        return String(decoding: try FileIO.readAll(path: bearerTokenFile), as: UTF8.self).trimmed
    }

    public static func hostPort(_ url: String) -> String {
        guard let u = URL(string: url), let host = u.host else { return url }
        return u.port.map { "\(host):\($0)" } ?? host
    }
}
