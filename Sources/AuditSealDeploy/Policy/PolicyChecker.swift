/// Checks an audit policy for what matters to a tamper-evident audit trail: payloads that carry
/// credentials must never be recorded (errors), and the policy should be complete and lean
/// (warnings). Rules are evaluated as the API server evaluates them
/// (k8s.io/apiserver/pkg/audit/policy/checker.go): the first rule that matches a request sets its
/// level, so a broad rule only matters for the requests that no earlier rule took whole.
public enum PolicyChecker {
    /// One thing found; `code` is stable for scripts and tests, `message` is for people.
    public struct Finding: Sendable, Equatable, Codable {
        public enum Severity: String, Sendable, Codable { case error, warning }
        public var severity: Severity
        public var code: String
        /// The 1-based rule the finding is about, when it is about one.
        public var rule: Int?
        public var message: String
        /// The built-in redaction rules (docs/OPERATIONS.md "Redaction") that remove what this
        /// finding says would be recorded, when they are on; nil when none does.
        public var redactedBy: [String]?

        public init(severity: Severity, code: String, rule: Int?, message: String, redactedBy: [String]? = nil) {
            self.severity = severity; self.code = code; self.rule = rule; self.message = message; self.redactedBy = redactedBy
        }
    }

    /// A request the checks reason about: a resource (`group`, `resource` with its subresource)
    /// or a non-resource URL, with the verbs that matter (empty: every verb).
    struct Target {
        var group = ""
        var resource = ""
        var url: String?
        var verbs: [String] = []
        var label: String
        /// Recorded at this level or above, the payload leaks what it carries.
        var leaksFrom: AuditPolicy.Level = .request
        var why = ""
        /// Built-in redaction rules that remove these credentials before sealing, and how far.
        var redactedBy: [String] = []
        var redactionNote = ""
    }

    /// Credential-bearing payloads: the request body (`Request`) or the response (`RequestResponse`).
    static let sensitive: [Target] = [
        Target(resource: "secrets", label: "Secrets", leaksFrom: .request, why: "their data is in create/update bodies and in responses",
               redactedBy: ["secret-data", "secret-last-applied"], redactionNote: "every data/stringData value and the last-applied copy"),
        Target(resource: "configmaps", label: "ConfigMaps", leaksFrom: .request, why: "they often hold credentials and connection strings",
               redactedBy: ["configmap-credential", "jwt", "pem-private-key", "aws-access-key", "github-token", "slack-token", "google-api-key"],
               redactionNote: "only values whose key or line names a credential and known key shapes: a password under another name is sealed"),
        Target(group: "authentication.k8s.io", resource: "tokenreviews", label: "TokenReviews", leaksFrom: .request, why: "spec.token is a live bearer token",
               redactedBy: ["tokenreview-token"], redactionNote: "spec.token"),
        Target(resource: "serviceaccounts/token", label: "serviceaccounts/token (TokenRequest)", leaksFrom: .requestResponse, why: "status.token in the response is a live bearer token",
               redactedBy: ["tokenrequest-token"], redactionNote: "status.token"),
    ]

    /// High-volume traffic that is rarely worth a record.
    static let noise: [Target] = [
        Target(group: "coordination.k8s.io", resource: "leases", verbs: ["get", "update"], label: "lease renewals (coordination.k8s.io leases get/update)"),
        Target(resource: "events", verbs: ["create", "update", "patch"], label: "Event writes (core events)"),
        Target(group: "events.k8s.io", resource: "events", verbs: ["create", "update", "patch"], label: "Event writes (events.k8s.io)"),
        Target(url: "/healthz", verbs: ["get"], label: "health checks (/healthz)"),
        Target(url: "/livez", verbs: ["get"], label: "health checks (/livez)"),
        Target(url: "/readyz", verbs: ["get"], label: "health checks (/readyz)"),
    ]

    /// Every finding for a policy, errors first, each group in rule order.
    /// With `builtinRedaction` (serve's default), each credential finding names the built-in
    /// redaction rules that remove those values before they are sealed, and how far they reach.
    public static func check(_ policy: AuditPolicy, builtinRedaction: Bool = false) -> [Finding] {
        var findings = [Finding]()
        for target in sensitive {
            for rule in policy.rules {
                guard matchesSome(rule, target) else { continue }
                if rule.level >= target.leaksFrom {
                    let scope = coversAll(rule, target) ? "" : " (for the requests it selects)"
                    let covered = builtinRedaction && !target.redactedBy.isEmpty
                    let redaction = covered ? "; redaction's built-in rules (\(target.redactedBy.joined(separator: ", "))) remove \(target.redactionNote) before sealing" : ""
                    findings.append(Finding(severity: .error, code: "records-credentials", rule: rule.number,
                                            message: "rule \(rule.number) records \(target.label) at \(rule.level.rawValue)\(scope): \(target.why); use Metadata or None\(redaction)",
                                            redactedBy: covered ? target.redactedBy : nil))
                }
                if coversAll(rule, target) { break }
            }
        }
        if !policy.rules.contains(where: isCatchAll) {
            findings.append(Finding(severity: .warning, code: "no-catch-all", rule: nil,
                                    message: "no catch-all rule (one with only a level): requests that match no rule are not recorded at all"))
        }
        if !policy.omitStages.contains(.requestReceived) && policy.rules.contains(where: { $0.level != .none && !$0.omitStages.contains(.requestReceived) }) {
            findings.append(Finding(severity: .warning, code: "request-received", rule: nil,
                                    message: "the RequestReceived stage is not omitted: every request is recorded twice (add omitStages: [RequestReceived])"))
        }
        for target in noise {
            for rule in policy.rules {
                guard matchesSome(rule, target) else { continue }
                if rule.level != .none {
                    findings.append(Finding(severity: .warning, code: "noise", rule: rule.number,
                                            message: "rule \(rule.number) records \(target.label) at \(rule.level.rawValue): high volume, little value; add a level None rule for them first"))
                    break
                }
                if coversAll(rule, target) { break }
            }
        }
        for (i, later) in policy.rules.enumerated() {
            if let earlier = policy.rules[..<i].first(where: { covers($0, later) }) {
                findings.append(Finding(severity: .warning, code: "shadowed", rule: later.number,
                                        message: "rule \(later.number) never applies: rule \(earlier.number) matches every request it would"))
            }
        }
        return findings.sorted { ($0.severity == .error ? 0 : 1, $0.rule ?? 0) < ($1.severity == .error ? 0 : 1, $1.rule ?? 0) }
    }

    // MARK: - Matching, as checker.go does it

    static func isResourceRule(_ r: AuditPolicy.Rule) -> Bool { !r.resources.isEmpty || !r.namespaces.isEmpty }

    static func isCatchAll(_ r: AuditPolicy.Rule) -> Bool {
        r.users.isEmpty && r.userGroups.isEmpty && r.verbs.isEmpty && r.resources.isEmpty && r.namespaces.isEmpty && r.nonResourceURLs.isEmpty
    }

    /// Whether a resource pattern (`pods`, `*`, `*/scale`, `pods/*`) matches `resource[/subresource]`.
    static func pattern(_ p: String, matches combined: String) -> Bool {
        let parts = combined.split(separator: "/", maxSplits: 1).map(String.init)
        let resource = parts.first ?? ""
        let subresource = parts.count > 1 ? parts[1] : ""
        if p == combined || p == "*" { return true }
        if !subresource.isEmpty, p.hasPrefix("*/"), subresource == p.dropFirst(2) { return true }
        if p.hasSuffix("/*"), resource == p.dropLast(2) { return true }
        return false
    }

    static func url(_ p: String, matches url: String) -> Bool {
        p == "*" || p == url || (p.hasSuffix("*") && url.hasPrefix(p.dropLast()))
    }

    /// The rule selects the target's group and resource (or URL); `allNames` when without a name restriction.
    static func selects(_ r: AuditPolicy.Rule, _ t: Target, allNames: Bool) -> Bool {
        if let u = t.url {
            guard !isResourceRule(r) else { return false }
            return r.nonResourceURLs.isEmpty || r.nonResourceURLs.contains { url($0, matches: u) }
        }
        if isResourceRule(r) {
            if r.resources.isEmpty { return true }
            return r.resources.contains { gr in
                gr.group == t.group && (!allNames || gr.resourceNames.isEmpty)
                    && (gr.resources.isEmpty || gr.resources.contains { pattern($0, matches: t.resource) })
            }
        }
        return r.nonResourceURLs.isEmpty
    }

    /// Some request to the target can take this rule's level.
    static func matchesSome(_ r: AuditPolicy.Rule, _ t: Target) -> Bool {
        if !r.verbs.isEmpty && !t.verbs.isEmpty && Set(r.verbs).isDisjoint(with: t.verbs) { return false }
        return selects(r, t, allNames: false)
    }

    /// Every request to the target that reaches this rule takes its level: nothing after it matters.
    static func coversAll(_ r: AuditPolicy.Rule, _ t: Target) -> Bool {
        guard r.users.isEmpty, r.userGroups.isEmpty, r.namespaces.isEmpty else { return false }
        if !r.verbs.isEmpty && (t.verbs.isEmpty || !Set(t.verbs).isSubset(of: r.verbs)) { return false }
        return selects(r, t, allNames: true)
    }

    /// `a` matches every request `b` matches, so `b` never applies after it.
    static func covers(_ a: AuditPolicy.Rule, _ b: AuditPolicy.Rule) -> Bool {
        func subset(_ small: [String], of big: [String]) -> Bool { big.isEmpty || (!small.isEmpty && Set(small).isSubset(of: big)) }
        guard subset(b.users, of: a.users), subset(b.userGroups, of: a.userGroups), subset(b.verbs, of: a.verbs) else { return false }
        if a.resources.isEmpty && a.namespaces.isEmpty && a.nonResourceURLs.isEmpty { return true }
        if isResourceRule(a) {
            guard isResourceRule(b), subset(b.namespaces, of: a.namespaces) else { return false }
            if a.resources.isEmpty { return true }
            guard !b.resources.isEmpty else { return false }
            return b.resources.allSatisfy { bg in
                a.resources.contains { ag in
                    ag.group == bg.group && subset(bg.resourceNames, of: ag.resourceNames)
                        && (ag.resources.isEmpty || (!bg.resources.isEmpty && bg.resources.allSatisfy { bp in
                            ag.resources.contains { ap in ap == bp || ap == "*" || (ap.hasSuffix("/*") && (bp == ap.dropLast(2) || bp.hasPrefix(ap.dropLast()))) }
                        }))
                }
            }
        }
        guard !isResourceRule(b), !b.nonResourceURLs.isEmpty else { return false }
        return b.nonResourceURLs.allSatisfy { bu in
            a.nonResourceURLs.contains { au in au == bu || (au.hasSuffix("*") && bu.hasPrefix(au.dropLast())) }
        }
    }
}
