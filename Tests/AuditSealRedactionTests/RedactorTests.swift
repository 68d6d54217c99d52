@testable import AuditSealRedaction
import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The built-in rules on the leak corpus: every secret gone, in every form, each by its rule; the
/// line still JSON of the same shape, every other value unchanged; an ordinary event untouched.
@Suite struct RedactorTests {
    static func redact(_ line: [UInt8], _ redactor: Redactor) throws -> (line: [UInt8], values: [RedactedValue])? {
        let batch = try EventScanner(mode: .stream).scan(line + [0x0a])
        return try redactor.redact(batch.line(0), fields: { batch.fields(0) })
    }

    /// Every string value of a line by path.
    static func strings(_ line: [UInt8]) throws -> [String: String] {
        var out = [String: String]()
        try line.withUnsafeBytes { raw in
            try JSONStringValues.forEach(in: raw) { path, range in
                out[RedactionMarker.pathText(path)] = String(decoding: line[range], as: UTF8.self)
            }
        }
        return out
    }

    @Test func everyLeakShapeIsRedactedByItsRuleAndNothingElseChanges() throws {
        let redactor = try Redactor(configuration: RedactionConfiguration())
        let lines = try LeakCorpus.lines()
        let secrets = try LeakCorpus.secrets()
        var rulesSeen = Set<String>()
        for (n, line) in lines.enumerated() {
            let stored = try EventScanner(mode: .stream).scan(line + [0x0a]).line(0)
            guard let (out, values) = try Self.redact(line, redactor) else {
                // Only the ordinary event (the last) is left alone, byte for byte.
                #expect(n == lines.count - 1, "event \(n + 1) was not redacted")
                #expect(try LeakCorpus.leaks(in: stored).isEmpty)
                continue
            }
            let leaks = try LeakCorpus.leaks(in: out)
            #expect(leaks.isEmpty, "event \(n + 1): \(leaks)")
            #expect((try? JSONSerialization.jsonObject(with: Data(out))) != nil, "event \(n + 1) is not JSON")
            rulesSeen.formUnion(values.map(\.rule))
            // Same paths; each value either unchanged or holding exactly its markers.
            let before = try Self.strings(stored), after = try Self.strings(out)
            #expect(Set(before.keys) == Set(after.keys), "event \(n + 1): the shape changed")
            for (path, value) in after where value != before[path] {
                #expect(value.contains(RedactionMarker.prefix), "event \(n + 1): \(path) changed without a marker")
            }
            #expect(RedactionMarker.find(in: out).map(\.commitment) == values.map(\.commitment))
            // Each commitment is over (salt, path, the raw value) and the raw value is what stood there.
            for v in values {
                #expect(RedactionMarker.commitment(salt: v.salt, path: v.path, raw: v.raw) == v.commitment)
                #expect(stored.withUnsafeBytes { ByteSearch.contains($0, v.raw) })
            }
        }
        #expect(rulesSeen == Set(secrets.map(\.rule)), "rules that fired: \(rulesSeen.sorted())")
    }

    /// Every service account's event carries `authentication.kubernetes.io/credential-id` in
    /// user.extra: the word alone must not send a Metadata event down the parsing path (it made
    /// saturated ingest 5 times slower), while the same word in the request URI's query does.
    @Test func aCredentialWordOutsideObjectsAndQueryIsTheFastPath() throws {
        let redactor = try Redactor(configuration: RedactionConfiguration())
        let event = #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"m","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/prod/pods?limit=500","verb":"list","user":{"username":"system:serviceaccount:kube-system:x","extra":{"authentication.kubernetes.io/credential-id":["JTI=1"]}},"objectRef":{"resource":"pods"}}"#
        #expect(!Array(event.utf8).withUnsafeBytes { redactor.mayApply(to: $0, resourceIs: { _ in false }) })
        let query = event.replacingOccurrences(of: "?limit=500", with: "?limit=500&access_token=abc")
        #expect(Array(query.utf8).withUnsafeBytes { redactor.mayApply(to: $0, resourceIs: { _ in false }) })
        let (out, values) = try #require(try Self.redact(Array(query.utf8), redactor))
        #expect(values.map(\.rule) == ["uri-credential"] && !String(decoding: out, as: UTF8.self).contains("abc"))
    }

    @Test func theSameValueGetsADifferentCommitmentEachTime() throws {
        let redactor = try Redactor(configuration: RedactionConfiguration())
        let line = try LeakCorpus.lines()[0]
        let a = try #require(try Self.redact(line, redactor)), b = try #require(try Self.redact(line, redactor))
        #expect(a.values.map(\.raw) == b.values.map(\.raw))
        #expect(a.values.map(\.commitment) != b.values.map(\.commitment))
    }

    @Test func personalDataAndOperatorRulesAreOptIn() throws {
        let line = try LeakCorpus.lines().last!
        #expect(try Self.redact(line, try Redactor(configuration: RedactionConfiguration())) == nil)
        var config = RedactionConfiguration()
        config.personalData = ["sourceIPs", "userAgent", "username"]
        config.rules = [.init(name: "pod-names", path: "objectRef.name", resources: ["pods"]),
                        .init(name: "uids", pattern: "web-[0-9]+")]
        let (out, values) = try #require(try Self.redact(line, try Redactor(configuration: config)))
        #expect(Set(values.map(\.rule)) == ["source-ips", "user-agent", "username", "pod-names", "uids"])
        let text = String(decoding: out, as: UTF8.self)
        #expect(!text.contains("10.0.0.12") && !text.contains("alice@example.com") && !text.contains("kubectl/v1.31.0"))
        #expect(text.contains(#""verb":"get""#))
        // A selector that does not match leaves the value.
        config.personalData = []
        config.rules = [.init(name: "secret-names", path: "objectRef.name", resources: ["secrets"])]
        #expect(try Self.redact(line, try Redactor(configuration: config)) == nil)
    }

    @Test func badRulesAreRefusedNamingTheField() throws {
        var config = RedactionConfiguration()
        config.personalData = ["emails"]
        #expect(throws: AuditSealError.self) { try Redactor(configuration: config) }
        config.personalData = []
        config.rules = [.init(name: "Bad Name", path: "a")]
        #expect(throws: AuditSealError.self) { try Redactor(configuration: config) }
        config.rules = [.init(name: "x", pattern: "(")]
        #expect { try Redactor(configuration: config) } throws: { ($0 as? AuditSealError)?.reason.contains("redaction.rules[0].pattern") == true }
    }

    @Test func aTruncatedOrCutPEMKeyIsStillRemoved() throws {
        let redactor = try Redactor(configuration: RedactionConfiguration())
        let line = Array(#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"p","stage":"ResponseComplete","requestObject":{"x":"key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEAcut"}}"#.utf8)
        let (out, values) = try #require(try Self.redact(line, redactor))
        #expect(values.map(\.rule) == ["pem-private-key"])
        #expect(!String(decoding: out, as: UTF8.self).contains("MIIEpQ"))
        #expect(String(decoding: out, as: UTF8.self).contains(#""x":"key: auditseal-redacted:pem-private-key:"#))
    }
}
