import AuditSealCore
import FoundationEssentials

/// A path pattern: member names, or `*` for any member or position.
struct PathPattern: Sendable, Equatable {
    enum Step: Sendable, Equatable {
        case key(String)
        case any
    }
    var steps: [Step]

    /// Dotted text: `a.b.*.c`, with `\.` for a dot inside a name.
    init(_ text: String) {
        var steps = [Step]()
        var current = ""
        var escaped = false
        for ch in text {
            if escaped { current.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == "." { steps.append(current == "*" ? .any : .key(current)); current = ""; continue }
            current.append(ch)
        }
        steps.append(current == "*" ? .any : .key(current))
        self.steps = steps
    }

    func matches(_ path: [JSONStringValues.Step]) -> Bool {
        guard path.count == steps.count else { return false }
        for (step, component) in zip(steps, path) {
            switch (step, component) {
            case (.any, _): continue
            case (.key(let k), .key(let name)) where k == name: continue
            default: return false
            }
        }
        return true
    }
}

/// A rule that removes whole string values at given paths, for events that match its selector.
struct PathRule: Sendable {
    var name: String
    var paths: [PathPattern]
    /// nil: every resource.
    var resources: Set<String>?
    var subresource: String?
    var verbs: Set<String>?

    func selects(_ fields: EventFields) -> Bool {
        if let resources, !resources.contains(fields.resource ?? "") { return false }
        if let subresource, fields.subresource != subresource { return false }
        if let verbs, !verbs.contains(fields.verb ?? "") { return false }
        return true
    }
}

/// The rule sets, by name and version (docs/OPERATIONS.md "Redaction").
enum BuiltinRules {
    static let version = "builtin/v1"

    static func both(_ suffixes: [String]) -> [PathPattern] {
        ["requestObject", "responseObject"].flatMap { side in suffixes.map { PathPattern(side + "." + $0) } }
            + suffixes.map { PathPattern("responseObject.items.*." + $0) }
    }

    static let pathRules: [PathRule] = [
        // TokenRequest (serviceaccounts/token) answers with a freshly minted token (kubernetes#109376).
        PathRule(name: "tokenrequest-token", paths: [PathPattern("responseObject.status.token")],
                 resources: ["serviceaccounts"], subresource: "token"),
        // A TokenReview carries the bearer token it asks about.
        PathRule(name: "tokenreview-token", paths: [PathPattern("requestObject.spec.token"), PathPattern("responseObject.spec.token")],
                 resources: ["tokenreviews"]),
        // A Secret's values, in requests (create, update, patch bodies) and responses (get, list).
        PathRule(name: "secret-data", paths: both(["data.*", "stringData.*"]), resources: ["secrets"]),
        // kubectl apply copies the whole Secret, data included, into this annotation.
        PathRule(name: "secret-last-applied", paths: both(["metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration"]),
                 resources: ["secrets"]),
    ]

    /// Opt-in personal data (`personalData:`), by the name the configuration uses.
    static let personalData: [String: PathRule] = [
        "sourceIPs": PathRule(name: "source-ips", paths: [PathPattern("sourceIPs.*")]),
        "userAgent": PathRule(name: "user-agent", paths: [PathPattern("userAgent")]),
        "userExtra": PathRule(name: "user-extra", paths: [PathPattern("user.extra.*.*"), PathPattern("impersonatedUser.extra.*.*")]),
        "username": PathRule(name: "username", paths: [PathPattern("user.username"), PathPattern("impersonatedUser.username")]),
    ]

    /// Words that make a query parameter, a command-line flag or an environment variable a credential.
    static let credentialWords = ["token", "password", "passwd", "secret", "apikey", "api-key", "api_key", "credential",
                                  "privatekey", "private-key", "private_key", "accesskey", "access-key", "access_key"]

    static func namesCredential(_ name: String) -> Bool {
        let lower = name.lowercased()
        return credentialWords.contains { lower.contains($0) }
    }

    /// Resources whose events the built-in selectors pick.
    static let selectedResources = ["secrets", "serviceaccounts", "tokenreviews"]

    /// Literals every built-in pattern match contains (a line without any of them holds no match).
    static let patternNeedles: [ByteSearch.Needle] = (["Bearer", "bearer", "BEARER"] + SecretPattern.builtin.flatMap(\.triggers).map { String(decoding: $0, as: UTF8.self) })
        .map(ByteSearch.Needle.init)

    /// The credential words, as they are searched (three casings each). They matter only inside
    /// request or response objects (env names, ConfigMap keys) and in the request URI's query:
    /// every event of a service account carries `authentication.kubernetes.io/credential-id` in
    /// `user.extra`, which must not send it down the slow path.
    static let wordNeedles: [ByteSearch.Needle] = credentialWords.flatMap { w in
        [w, w.uppercased(), w.prefix(1).uppercased() + w.dropFirst()].map(ByteSearch.Needle.init)
    }
}
