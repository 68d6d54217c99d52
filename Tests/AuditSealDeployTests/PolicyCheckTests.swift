import AuditSealCore
import AuditSealDeploy
import AuditSealTestSupport
import Foundation
import Testing

/// `auditseal policy check`: the shipped policies pass, the Kubernetes documentation's example is
/// caught recording ConfigMap bodies, and each finding has a policy that provokes it.
@Suite struct PolicyCheckTests {
    static func findings(_ yaml: String) throws -> [PolicyChecker.Finding] { PolicyChecker.check(try AuditPolicy(yaml: yaml)) }

    static func codes(_ yaml: String) throws -> [String] { try findings(yaml).map { "\($0.severity.rawValue):\($0.code):\($0.rule.map(String.init) ?? "-")" } }

    @Test(arguments: ["recommended", "compliance", "kubectl-only"])
    func shippedPolicyHasNoFindings(_ name: String) throws {
        let text = String(decoding: try FileIO.readAll(path: TestSupport.packageRoot + "/policies/\(name).yaml"), as: UTF8.self)
        let policy = try AuditPolicy(yaml: text)
        #expect(policy.rules.count >= 5)
        #expect(PolicyChecker.check(policy) == [])
    }

    @Test func kubernetesDocumentationExampleRecordsConfigMapBodies() throws {
        let path = TestSupport.packageRoot + "/Tests/AuditSealDeployTests/Fixtures/k8s-docs-audit-policy.yaml"
        let found = try Self.findings(String(decoding: try FileIO.readAll(path: path), as: UTF8.self))
        // Rule 6 logs ConfigMap request bodies in kube-system; secrets are caught by rule 7 (Metadata)
        // before rule 8 (Request for the whole core group) could record them.
        #expect(found.filter { $0.severity == .error }.map(\.rule) == [6])
        #expect(found.first?.message.contains("ConfigMaps at Request") == true)
        // Health checks and leases fall through to the Metadata catch-all; core Event writes to rule 8.
        let noise = found.filter { $0.code == "noise" }
        #expect(noise.contains { $0.rule == 8 && $0.message.contains("core events") })
        #expect(noise.contains { $0.rule == 9 && $0.message.contains("/healthz") })
        #expect(noise.contains { $0.rule == 9 && $0.message.contains("leases") })
        #expect(!found.contains { $0.code == "no-catch-all" || $0.code == "request-received" })
    }

    @Test func secretsAtRequestResponseAreAnError() throws {
        let yaml = """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            omitStages: [RequestReceived]
            rules:
              - level: RequestResponse
                resources: [{group: "", resources: ["secrets"]}]
              - level: Metadata
            """
        #expect(try Self.codes(yaml).filter { $0.hasPrefix("error") } == ["error:records-credentials:1"])
    }

    /// Issue 33: with serve's built-in redaction on, each credential finding names the rules that
    /// remove those values before sealing (and a ConfigMap's reach is said to be partial).
    @Test func credentialFindingsNameTheRedactionRulesThatCoverThem() throws {
        let policy = try AuditPolicy(yaml: """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            rules:
              - level: RequestResponse
                resources: [{group: "", resources: ["secrets", "configmaps", "serviceaccounts/token"]}, {group: "authentication.k8s.io", resources: ["tokenreviews"]}]
              - level: Metadata
            """)
        let covered = PolicyChecker.check(policy, builtinRedaction: true).filter { $0.code == "records-credentials" }
        #expect(covered.map { $0.redactedBy?.first } == ["secret-data", "configmap-credential", "tokenreview-token", "tokenrequest-token"])
        #expect(covered[1].message.contains("a password under another name is sealed"))
        let bare = PolicyChecker.check(policy).filter { $0.code == "records-credentials" }
        #expect(bare.count == 4 && bare.allSatisfy { $0.redactedBy == nil && !$0.message.contains("redaction") })
    }

    @Test func credentialRulesRespectFirstMatchAndLevels() throws {
        // A user-restricted Metadata rule does not protect other users: the RequestResponse catch-all still records secrets.
        let partial = """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            omitStages: [RequestReceived]
            rules:
              - level: Metadata
                users: ["alice"]
                resources: [{group: "", resources: ["secrets"]}]
              - level: RequestResponse
            """
        let errors = try Self.findings(partial).filter { $0.severity == .error }
        #expect(Set(errors.map(\.rule)) == [2])
        #expect(errors.map(\.message).contains { $0.contains("Secrets") })
        #expect(errors.map(\.message).contains { $0.contains("TokenReviews") })
        #expect(errors.map(\.message).contains { $0.contains("serviceaccounts/token") })
        // The token of a TokenRequest is in the response only: Request level is fine for it, and
        // `pods/*` style patterns and `*` select subresources as the API server does.
        let tokens = """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            omitStages: [RequestReceived]
            rules:
              - level: Metadata
                resources: [{group: "", resources: ["secrets", "configmaps"]}, {group: authentication.k8s.io}]
              - level: Request
                resources: [{group: "", resources: ["serviceaccounts/*"]}]
              - level: RequestResponse
                resources: [{group: "", resources: ["*"]}]
              - level: Metadata
            """
        #expect(try Self.findings(tokens).filter { $0.severity == .error } == [])
        let withoutSubresourceRule = tokens.replacingOccurrences(of: "  - level: Request\n    resources: [{group: \"\", resources: [\"serviceaccounts/*\"]}]\n", with: "")
        let tokenErrors = try Self.findings(withoutSubresourceRule).filter { $0.severity == .error }
        #expect(tokenErrors.map(\.rule) == [2])
        #expect(tokenErrors.first?.message.contains("serviceaccounts/token") == true)
    }

    @Test func completenessNoiseAndShadowedRules() throws {
        let yaml = """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            rules:
              - level: None
                resources: [{group: "", resources: ["secrets", "configmaps"]}, {group: authentication.k8s.io}]
              - level: Metadata
                verbs: ["get", "list"]
              - level: Metadata
                verbs: ["get"]
                resources: [{group: "apps", resources: ["deployments"]}]
              - level: Request
                resources: [{group: "apps"}]
            """
        let codes = try Self.codes(yaml)
        #expect(codes.contains("warning:no-catch-all:-"))
        #expect(codes.contains("warning:request-received:-"))
        #expect(codes.contains("warning:shadowed:3"))  // rule 2 takes every get
        #expect(codes.contains("warning:noise:2"))  // lease gets and health checks
        #expect(!codes.contains { $0.hasPrefix("error") })
    }

    @Test(arguments: [
        ("kind: Policy\napiVersion: audit.k8s.io/v1beta1\nrules: [{level: None}]", "apiVersion must be audit.k8s.io/v1"),
        ("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: Everything}]", "rules[0].level: Everything"),
        ("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, resource: [x]}]", "unknown field resource"),
        ("kind: Policy\napiVersion: audit.k8s.io/v1\nomitStages: [Done]\nrules: [{level: None}]", "Done is not a stage"),
        ("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: []", "at least one rule"),
        ("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, nonResourceURLs: [/x], resources: [{group: apps}]}]", "both regular resources and non-resource URLs"),
        ("kind: Policy\napiVersion: audit.k8s.io/v1\nrules: [{level: None, resources: [{group: apps/v1}]}]", "names a version"),
    ])
    func schemaViolationsAreNamed(_ yaml: String, _ reason: String) {
        #expect {
            _ = try AuditPolicy(yaml: yaml)
        } throws: { error in
            (error as? AuditSealError)?.code == .malformedInput && (error as? AuditSealError)?.reason.contains(reason) == true
        }
    }

    @Test func commandExitCodes() throws {
        let binary = TestSupport.product("auditseal")
        let root = TestSupport.packageRoot
        let ok = try TestSupport.run(binary, ["policy", "check", root + "/policies/recommended.yaml", root + "/policies/compliance.yaml", root + "/policies/kubectl-only.yaml"])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.components(separatedBy: ": OK: 0 error(s), 0 warning(s)").count == 4)
        let dir = TestSupport.temporaryDirectory("policy")
        let leaky = dir + "/leaky.yaml"
        try FileIO.writeAtomically(path: leaky, bytes: Array("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n".utf8))
        let bad = try TestSupport.run(binary, ["policy", "check", "--json", leaky])
        #expect(bad.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any]
        let findings = object?["findings"] as? [[String: Any]] ?? []
        #expect(findings.filter { $0["severity"] as? String == "error" }.count == 4)
        let missing = try TestSupport.run(binary, ["policy", "check", dir + "/absent.yaml"])
        #expect(missing.status == 2)
    }
}
