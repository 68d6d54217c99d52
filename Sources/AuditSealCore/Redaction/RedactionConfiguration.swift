/// `redaction:` in `serve`'s configuration, and the same for `import` and reconciliation
/// (docs/OPERATIONS.md "Redaction"). Values a rule selects are replaced by a `RedactionMarker`
/// before the event is chained; their originals go, encrypted to the auditor keys, to a vault.
public struct RedactionConfiguration: Codable, Sendable, Equatable {
    /// The built-in credential rules (`builtin/v1`). On unless switched off.
    public var builtin: Bool = true
    /// Opt-in personal-data rules, by name: `sourceIPs`, `userAgent`, `userExtra`, `username`.
    public var personalData: [String] = []
    /// The operator's own rules.
    public var rules: [Rule] = []
    /// Auditor public keys (X25519, SubjectPublicKeyInfo PEM; `auditseal keygen --auditor`): the
    /// originals are encrypted to each. With none, redacted values are not kept anywhere.
    public var auditorKeys: [String] = []

    public init() {}

    /// One operator rule: a path (dotted member names, `*` for any member or position, `\.` for a
    /// dot inside a name) or a pattern (a regular expression matched inside every string value),
    /// optionally only for some resources and verbs.
    public struct Rule: Codable, Sendable, Equatable {
        public var name: String
        public var path: String?
        public var pattern: String?
        public var resources: [String]?
        public var verbs: [String]?
        public init(name: String, path: String? = nil, pattern: String? = nil, resources: [String]? = nil, verbs: [String]? = nil) {
            self.name = name
            self.path = path
            self.pattern = pattern
            self.resources = resources
            self.verbs = verbs
        }

        public enum CodingKeys: String, CodingKey, CaseIterable { case name, path, pattern, resources, verbs }
    }

    public enum CodingKeys: String, CodingKey, CaseIterable { case builtin, personalData, rules, auditorKeys }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        builtin = try c.decodeIfPresent(Bool.self, forKey: .builtin) ?? true
        personalData = try c.decodeIfPresent([String].self, forKey: .personalData) ?? []
        rules = try c.decodeIfPresent([Rule].self, forKey: .rules) ?? []
        auditorKeys = try c.decodeIfPresent([String].self, forKey: .auditorKeys) ?? []
    }

    /// The personal-data rule names `personalData` accepts.
    public static let personalDataRules = ["sourceIPs", "userAgent", "userExtra", "username"]

    /// Whether any rule is active.
    public var isActive: Bool { builtin || !personalData.isEmpty || !rules.isEmpty }

    /// Refuses what cannot work, naming the field.
    public func validate() throws {
        for (i, name) in personalData.enumerated() where !Self.personalDataRules.contains(name) {
            throw AuditSealError(.usage, "redaction.personalData[\(i)]: unknown rule \"\(name)\" (one of \(Self.personalDataRules.joined(separator: ", ")))")
        }
        for (i, rule) in rules.enumerated() {
            guard RedactionMarker.isValidRule(rule.name) else {
                throw AuditSealError(.usage, "redaction.rules[\(i)].name: \"\(rule.name)\" must be 1 to 64 of a-z, 0-9 and -")
            }
            guard (rule.path == nil) != (rule.pattern == nil) else {
                throw AuditSealError(.usage, "redaction.rules[\(i)]: give path or pattern, not both")
            }
        }
    }
}

/// What runs on a batch before it is appended: redaction (`AuditSealRedaction`), or nothing.
public protocol BatchPreparing: Sendable {
    /// The batch to chain in place of `batch` (the same one when nothing changes). Throws when the
    /// batch cannot be prepared durably (a vault write failed): it must then not be acknowledged.
    func prepare(_ batch: EventBatch) async throws -> EventBatch
}
