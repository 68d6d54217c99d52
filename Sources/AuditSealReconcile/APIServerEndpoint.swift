import AuditSealCore
import Foundation
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
        let text = String(decoding: try FileIO.readAll(path: path), as: UTF8.self)
        guard let root = try YAMLDocument.load(text) as? [String: Any] else { throw AuditSealError(.malformedInput, "\(path) is not a kubeconfig") }
        let directory = FileIO.directory(of: path)
        func named(_ list: String, _ key: String?) -> [String: Any]? {
            let items = root[list] as? [[String: Any]] ?? []
            let item = key.flatMap { k in items.first { $0["name"] as? String == k } } ?? items.first
            return item?[String(list.dropLast())] as? [String: Any]
        }
        let contexts = root["contexts"] as? [[String: Any]] ?? []
        let current = root["current-context"] as? String
        let context = (contexts.first { $0["name"] as? String == current } ?? contexts.first)?["context"] as? [String: Any]
        guard let cluster = named("clusters", context?["cluster"] as? String), let server = cluster["server"] as? String else {
            throw AuditSealError(.malformedInput, "\(path): no cluster server in the current context")
        }
        let user = named("users", context?["user"] as? String) ?? [:]
        func file(_ value: Any?) throws -> String? {
            guard let p = value as? String else { return nil }
            return String(decoding: try FileIO.readAll(path: p.hasPrefix("/") ? p : directory + "/" + p), as: UTF8.self)
        }
        func data(_ value: Any?) -> String? {
            (value as? String).flatMap { Base64.decode($0) }.map { String(decoding: $0, as: UTF8.self) }
        }
        let tokenFile = (user["token"] == nil ? user["tokenFile"] as? String : nil).map { $0.hasPrefix("/") ? $0 : directory + "/" + $0 }
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        return APIServerEndpoint(
            name: name ?? Self.hostPort(base), url: base + "/metrics", bearerToken: user["token"] as? String, bearerTokenFile: tokenFile,
            caPEM: try data(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]),
            clientCertificatePEM: try data(user["client-certificate-data"]) ?? file(user["client-certificate"]),
            clientKeyPEM: try data(user["client-key-data"]) ?? file(user["client-key"]),
            insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false)
    }

    /// The bearer token to send now: the given one, or the token file's current content.
    public func currentToken() throws -> String? {
        if let bearerToken { return bearerToken }
        guard let bearerTokenFile else { return nil }
        return String(decoding: try FileIO.readAll(path: bearerTokenFile), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public static func hostPort(_ url: String) -> String {
        guard let u = URL(string: url), let host = u.host else { return url }
        return u.port.map { "\(host):\($0)" } ?? host
    }
}
