import AuditSealCore
import FoundationEssentials

/// What a kubeconfig's current context (or its first) says about where to connect and how: the
/// server, the CA, the client certificate and key, a bearer token or token file. Relative file
/// paths are taken from the kubeconfig's directory and `*-data` fields are base64 PEM, as
/// client-go reads them. Used for API servers' /metrics (reconciliation) and for forwarding sinks
/// (the same file format as the API server's own `--audit-webhook-config-file`).
public struct Kubeconfig: Sendable, Equatable {
    public var server: String
    public var caPEM: String?
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    public var token: String?
    /// An absolute path; read again by the caller at each use (tokens rotate).
    public var tokenFile: String?
    public var insecureSkipTLSVerify: Bool

    public struct Invalid: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    public static func load(_ path: String) throws -> Kubeconfig {
        func read(_ file: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: file)) } catch { throw Invalid(path: path, reason: "cannot read \(file)") }
        }
        let text = String(decoding: try read(path), as: UTF8.self)
        guard let root = try YAMLDocument.load(text) as? [String: Any] else { throw Invalid(path: path, reason: "not a kubeconfig") }
        let directory = PathName.parent(path)
        func absolute(_ p: String) -> String { p.hasPrefix("/") || directory.isEmpty ? p : directory + "/" + p }
        func named(_ list: String, _ key: String?) -> [String: Any]? {
            let items = root[list] as? [[String: Any]] ?? []
            let item = key.flatMap { k in items.first { $0["name"] as? String == k } } ?? items.first
            return item?[String(list.dropLast())] as? [String: Any]
        }
        let contexts = root["contexts"] as? [[String: Any]] ?? []
        let current = root["current-context"] as? String
        let context = (contexts.first { $0["name"] as? String == current } ?? contexts.first)?["context"] as? [String: Any]
        guard let cluster = named("clusters", context?["cluster"] as? String), let server = cluster["server"] as? String else {
            throw Invalid(path: path, reason: "no cluster server in the current context")
        }
        let user = named("users", context?["user"] as? String) ?? [:]
        func pem(data key: String, file fileKey: String, in map: [String: Any]) throws -> String? {
            if let encoded = map[key] as? String {
                guard let bytes = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw Invalid(path: path, reason: "\(key) is not base64")
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            guard let file = map[fileKey] as? String else { return nil }
            return String(decoding: try read(absolute(file)), as: UTF8.self)
        }
        return Kubeconfig(
            server: server,
            caPEM: try pem(data: "certificate-authority-data", file: "certificate-authority", in: cluster),
            clientCertificatePEM: try pem(data: "client-certificate-data", file: "client-certificate", in: user),
            clientKeyPEM: try pem(data: "client-key-data", file: "client-key", in: user),
            token: user["token"] as? String,
            tokenFile: user["token"] == nil ? (user["tokenFile"] as? String).map(absolute) : nil,
            insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false)
    }
}
