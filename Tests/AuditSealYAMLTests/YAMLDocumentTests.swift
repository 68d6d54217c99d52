import AuditSealCore
import AuditSealDeploy
import AuditSealReconcile
import AuditSealServer
@testable import AuditSealYAML
import Foundation
import Testing

/// A YAML 1.1 base-60 number beyond the integer range is an error naming its field, where Yams
/// trapped building the integer (found by the config fuzz target: its input is now a seed,
/// Fuzz/corpus/config/regression-base60-overflow.yaml). Base-60 numbers in range still read as
/// YAML 1.1 says.
@Suite struct YAMLDocumentTests {
    @Test(arguments: [
        ("153722867280912930:7", false),   // Int64.max exactly
        ("153722867280912930:8", true),    // one more
        ("-153722867280912930:7", false),  // -Int64.max
        ("-153722867280912930:8", true),   // Int64.min: Yams builds the magnitude first, and it overflows
        ("6550000000000044642:2", true),   // the fuzzer's input
        ("1:0:0:0:0:0:0:0:0:0", false),    // ten parts: 60^10 fits
        ("1:1:1:1:1:1:1:1:1:1:1", true),   // eleven: Yams' running base 60^11 does not
        ("1_000:30", false),
        ("0:99999999999999999999", false), // a leading 0 is read with a radix, never as base 60
        ("1:x", false), ("https://a:6443", false), ("1:30", false), ("30", false),
    ])
    func base60Overflow(_ text: String, _ overflows: Bool) {
        #expect(YAMLDocument.overflowsAsBase60(text) == overflows, "\(text)")
    }

    @Test func serveConfigurationNamesTheField() throws {
        for (yaml, field) in [("# 00\nsegmentMaxBytes: 6550000000000044642:2", "segmentMaxBytes"),
                              ("reconcile:\n  apiServers:\n    - name: a\n      metricsURL: https://a:6443/metrics\n  intervalSeconds: 1:1:1:1:1:1:1:1:1:1:1", "reconcile.intervalSeconds")] {
            do {
                _ = try ServeConfiguration.load(yaml: yaml, source: "auditseal.yaml")
                Issue.record("accepted \(yaml)")
            } catch {
                let message = "\(error)"
                #expect(message.contains("field \"\(field)\"") && message.contains("base-60") && message.contains("auditseal.yaml"), "\(message)")
            }
        }
        let c = try ServeConfiguration.load(yaml: "duplicateWindow: 1:30\ns3Prefix: \"6550000000000044642:2\"", source: "auditseal.yaml")
        #expect(c.duplicateWindow == 90, "a base-60 number in range reads as YAML 1.1 says")
        #expect(c.s3Prefix == "6550000000000044642:2", "a quoted scalar is text")
    }

    @Test func aConfigThatIsNotYAMLIsNamedWithItsLine() {
        do {
            _ = try ServeConfiguration.load(yaml: "listen: 127.0.0.1:0\nreconcile: [unclosed\n", source: "auditseal.yaml")
            Issue.record("accepted")
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix("auditseal.yaml: not YAML: line 3") && message.contains("flow sequence"), "\(message)")
        }
    }

    @Test func auditPolicyAndKubeconfigRefuseIt() throws {
        #expect(throws: AuditSealError.self) {
            _ = try AuditPolicy(yaml: "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Metadata\n    x: 1:1:1:1:1:1:1:1:1:1:1\n")
        }
        let dir = NSTemporaryDirectory() + "yaml-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "apiVersion: v1\nkind: Config\nclusters: []\npreferences: {port: 9223372036854775807:59}\n".write(toFile: dir + "/kubeconfig", atomically: true, encoding: .utf8)
        #expect(throws: YAMLDocument.NumberOutOfRange.self) { _ = try APIServerEndpoint.kubeconfig(dir + "/kubeconfig") }
    }
}
