import FoundationEssentials

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
        guard let object = try? JSONValue.parse(line), case .object = object else { return nil }
        let user = object["user"]
        let ref = object["objectRef"]
        auditID = object["auditID"]?.string ?? ""
        stage = object["stage"]?.string ?? ""
        level = object["level"]?.string ?? ""
        verb = object["verb"]?.string ?? ""
        username = user?["username"]?.string ?? ""
        groups = user?["groups"]?.strings ?? []
        let impersonated = object["impersonatedUser"]
        impersonatedUsername = impersonated?.object.map { _ in impersonated?["username"]?.string ?? "" }
        impersonatedGroups = impersonated?["groups"]?.strings ?? []
        userAgent = object["userAgent"]?.string ?? ""
        sourceIPs = object["sourceIPs"]?.strings ?? []
        requestURI = object["requestURI"]?.string ?? ""
        resource = ref?["resource"]?.string ?? ""
        subresource = ref?["subresource"]?.string ?? ""
        namespace = ref?["namespace"]?.string ?? ""
        name = ref?["name"]?.string ?? ""
        apiGroup = ref?["apiGroup"]?.string ?? ""
        code = object["responseStatus"]?["code"]?.int
        stageTimestamp = object["stageTimestamp"]?.string ?? ""
        let spec = object["requestObject"]?["spec"]
        requestReplicas = spec?["replicas"]?.int
        for (k, v) in spec?["resourceAttributes"]?.object ?? [:] { if let v = v.string { reviewAttributes[k] = v } }
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
            let key = PercentEncoding.decode(String(parts[0])) ?? String(parts[0])
            let value = parts.count > 1 ? (PercentEncoding.decode(String(parts[1]).replacing("+", with: " ")) ?? String(parts[1])) : ""
            return (key, value)
        }
    }

    public func queryValues(_ key: String) -> [String] { query.filter { $0.0 == key }.map(\.1) }
}
