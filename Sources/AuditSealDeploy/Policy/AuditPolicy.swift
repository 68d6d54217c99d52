import AuditSealCore
import FoundationEssentials
import AuditSealYAML

/// An `audit.k8s.io/v1` `Policy`, read with the API server's schema: every field it knows, nothing
/// else (an unknown field, level or stage is an error, as it is for `--audit-policy-file`).
public struct AuditPolicy: Sendable, Equatable {
    public enum Level: String, Sendable, Comparable, CaseIterable {
        case none = "None", metadata = "Metadata", request = "Request", requestResponse = "RequestResponse"
        private var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }

    public enum Stage: String, Sendable, CaseIterable {
        case requestReceived = "RequestReceived", responseStarted = "ResponseStarted", responseComplete = "ResponseComplete", panic = "Panic"
    }

    /// `GroupResources`: a group ("" is the core group), resource patterns (`pods`, `pods/log`,
    /// `pods/*`, `*/scale`, `*`; none means all of the group) and optional object names.
    public struct GroupResources: Sendable, Equatable {
        public var group: String = ""
        public var resources: [String] = []
        public var resourceNames: [String] = []
    }

    public struct Rule: Sendable, Equatable {
        public var level: Level
        public var users: [String] = []
        public var userGroups: [String] = []
        public var verbs: [String] = []
        public var resources: [GroupResources] = []
        public var namespaces: [String] = []
        public var nonResourceURLs: [String] = []
        public var omitStages: [Stage] = []
        public var omitManagedFields: Bool?
        /// 1-based position in the file, for messages.
        public var number: Int
    }

    public var rules: [Rule]
    public var omitStages: [Stage]
    public var omitManagedFields: Bool

    /// Parses a policy; throws `.malformedInput` naming the field that does not fit the schema.
    public init(yaml text: String) throws {
        let root: Any?
        do { root = try YAMLDocument.load(text) } catch { throw AuditSealError(.malformedInput, "not YAML: \(error)") }
        guard let doc = root as? [String: Any] else { throw AuditSealError(.malformedInput, "not a YAML mapping") }
        try Self.allowOnly(doc, ["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"], at: "policy")
        guard doc["kind"] as? String == "Policy" else { throw AuditSealError(.malformedInput, "kind must be Policy, not \(doc["kind"] ?? "missing")") }
        let version = doc["apiVersion"] as? String
        guard version == "audit.k8s.io/v1" else {
            throw AuditSealError(.malformedInput, "apiVersion must be audit.k8s.io/v1 (v1beta1 and v1alpha1 were removed in Kubernetes 1.24), not \(version ?? "missing")")
        }
        omitStages = try Self.stages(doc["omitStages"], at: "omitStages")
        omitManagedFields = try Self.bool(doc["omitManagedFields"], at: "omitManagedFields") ?? false
        guard let rawRules = doc["rules"] as? [Any], !rawRules.isEmpty else {
            throw AuditSealError(.malformedInput, "rules: at least one rule is required (the API server refuses an empty policy)")
        }
        rules = try rawRules.enumerated().map { try Self.rule($1, number: $0 + 1) }
    }

    private static func rule(_ raw: Any, number: Int) throws -> Rule {
        let at = "rules[\(number - 1)]"
        guard let m = raw as? [String: Any] else { throw AuditSealError(.malformedInput, "\(at): not a mapping") }
        try allowOnly(m, ["level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages", "omitManagedFields"], at: at)
        guard let levelText = m["level"] as? String else { throw AuditSealError(.malformedInput, "\(at).level is required") }
        guard let level = Level(rawValue: levelText) else {
            throw AuditSealError(.malformedInput, "\(at).level: \(levelText) is not one of None, Metadata, Request, RequestResponse")
        }
        var rule = Rule(level: level, number: number)
        rule.users = try strings(m["users"], at: at + ".users")
        rule.userGroups = try strings(m["userGroups"], at: at + ".userGroups")
        rule.verbs = try strings(m["verbs"], at: at + ".verbs")
        rule.namespaces = try strings(m["namespaces"], at: at + ".namespaces")
        rule.nonResourceURLs = try strings(m["nonResourceURLs"], at: at + ".nonResourceURLs")
        rule.omitStages = try stages(m["omitStages"], at: at + ".omitStages")
        rule.omitManagedFields = try bool(m["omitManagedFields"], at: at + ".omitManagedFields")
        if let raw = m["resources"] {
            guard let list = raw as? [Any] else { throw AuditSealError(.malformedInput, "\(at).resources: not a list") }
            rule.resources = try list.enumerated().map { i, item in
                let here = "\(at).resources[\(i)]"
                guard let g = item as? [String: Any] else { throw AuditSealError(.malformedInput, "\(here): not a mapping") }
                try allowOnly(g, ["group", "resources", "resourceNames"], at: here)
                var gr = GroupResources()
                if let group = g["group"] { guard let s = group as? String else { throw AuditSealError(.malformedInput, "\(here).group: not a string") }; gr.group = s }
                gr.resources = try strings(g["resources"], at: here + ".resources")
                gr.resourceNames = try strings(g["resourceNames"], at: here + ".resourceNames")
                if gr.group.contains("/") { throw AuditSealError(.malformedInput, "\(here).group: \(gr.group) names a version; give the group alone") }
                return gr
            }
        }
        // The API server's validation (k8s.io/apiserver/pkg/apis/audit/validation).
        if !rule.nonResourceURLs.isEmpty && (!rule.resources.isEmpty || !rule.namespaces.isEmpty) {
            throw AuditSealError(.malformedInput, "\(at): rules cannot apply to both regular resources and non-resource URLs")
        }
        for url in rule.nonResourceURLs where !url.hasPrefix("/") || url.dropLast().contains("*") {
            throw AuditSealError(.malformedInput, "\(at).nonResourceURLs: \(url) must start with / and may end in * only")
        }
        return rule
    }

    private static func allowOnly(_ m: [String: Any], _ known: Set<String>, at: String) throws {
        for key in m.keys.sorted() where !known.contains(key) {
            throw AuditSealError(.malformedInput, "\(at): unknown field \(key)")
        }
    }

    private static func strings(_ raw: Any?, at: String) throws -> [String] {
        guard let raw else { return [] }
        guard let list = raw as? [Any] else { throw AuditSealError(.malformedInput, "\(at): not a list") }
        return try list.map { item in
            guard let s = item as? String else { throw AuditSealError(.malformedInput, "\(at): \(item) is not a string") }
            return s
        }
    }

    private static func stages(_ raw: Any?, at: String) throws -> [Stage] {
        try strings(raw, at: at).map { s in
            guard let stage = Stage(rawValue: s) else { throw AuditSealError(.malformedInput, "\(at): \(s) is not a stage (RequestReceived, ResponseStarted, ResponseComplete, Panic)") }
            return stage
        }
    }

    private static func bool(_ raw: Any?, at: String) throws -> Bool? {
        guard let raw else { return nil }
        guard let b = raw as? Bool else { throw AuditSealError(.malformedInput, "\(at): not a boolean") }
        return b
    }
}
