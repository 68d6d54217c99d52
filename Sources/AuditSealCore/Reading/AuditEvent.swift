import Foundation

/// The fields of one stored audit event that `cat` filters on and renders, parsed from its line.
public struct AuditEvent: Sendable {
    public var auditID: String
    public var stage: String
    public var level: String
    public var verb: String
    public var username: String
    public var groups: [String]
    /// Who the request was made as (`kubectl --as`, `impersonatedUser`), when it was impersonated.
    public var impersonatedUsername: String?
    public var impersonatedGroups: [String] = []
    public var userAgent: String
    public var sourceIPs: [String]
    public var requestURI: String
    public var resource: String
    public var subresource: String
    public var namespace: String
    public var name: String
    public var apiGroup: String
    public var code: Int?
    public var stageTimestamp: String
    /// From the request body, when the policy recorded it (Request level and up): a scale's
    /// `spec.replicas`, and an access review's `spec.resourceAttributes`.
    public var requestReplicas: Int?
    public var reviewAttributes: [String: String] = [:]

    /// Parses a stored line; nil when it is not a JSON object.
    public init?(line: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
        func string(_ o: [String: Any]?, _ k: String) -> String { o?[k] as? String ?? "" }
        let user = object["user"] as? [String: Any]
        let ref = object["objectRef"] as? [String: Any]
        auditID = string(object, "auditID")
        stage = string(object, "stage")
        level = string(object, "level")
        verb = string(object, "verb")
        username = string(user, "username")
        groups = user?["groups"] as? [String] ?? []
        let impersonated = object["impersonatedUser"] as? [String: Any]
        impersonatedUsername = impersonated.map { string($0, "username") }
        impersonatedGroups = impersonated?["groups"] as? [String] ?? []
        userAgent = string(object, "userAgent")
        sourceIPs = object["sourceIPs"] as? [String] ?? []
        requestURI = string(object, "requestURI")
        resource = string(ref, "resource")
        subresource = string(ref, "subresource")
        namespace = string(ref, "namespace")
        name = string(ref, "name")
        apiGroup = string(ref, "apiGroup")
        code = (object["responseStatus"] as? [String: Any])?["code"] as? Int
        stageTimestamp = string(object, "stageTimestamp")
        let request = object["requestObject"] as? [String: Any]
        let spec = request?["spec"] as? [String: Any]
        requestReplicas = spec?["replicas"] as? Int
        if let attributes = spec?["resourceAttributes"] as? [String: Any] {
            for (k, v) in attributes { if let v = v as? String { reviewAttributes[k] = v } }
        }
    }

    /// Who did it, as the output shows it: "alice", or "alice as bob" when alice impersonated bob.
    public var actor: String {
        let user = username.isEmpty ? "-" : username
        guard let impersonatedUsername else { return user }
        return "\(user) as \(impersonatedUsername.isEmpty ? "-" : impersonatedUsername)"
    }

    /// "resource/subresource", or the resource alone.
    public var fullResource: String { subresource.isEmpty ? resource : resource + "/" + subresource }

    /// Sent by kubectl (its user agent starts with "kubectl/" or "kubectl1.").
    public var isKubectl: Bool { userAgent.hasPrefix("kubectl/") || userAgent.hasPrefix("kubectl1") || userAgent.hasPrefix("kubectl ") }

    /// The query parameters of the request URI, in order (repeated keys kept).
    public var query: [(String, String)] {
        guard let q = requestURI.firstIndex(of: "?") else { return [] }
        return requestURI[requestURI.index(after: q)...].split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[1])) : ""
            return (key, value)
        }
    }

    public func queryValues(_ key: String) -> [String] { query.filter { $0.0 == key }.map(\.1) }
}
