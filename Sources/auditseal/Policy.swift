import ArgumentParser
import AuditSealCore
import AuditSealServer
import AuditSealDeploy
import FoundationEssentials

/// `auditseal policy`: tools for the API server's audit policy.
struct Policy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audit-policy tools.", subcommands: [PolicyCheck.self])
}

/// `auditseal policy check FILE...`: schema errors, credential-bearing payloads, completeness, noise.
struct PolicyCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check audit.k8s.io/v1 Policy files before an API server uses them.",
        discussion: """
            Errors: a field, level or stage the API server would refuse; a rule that can record Secrets, \
            ConfigMaps or TokenReviews at Request or RequestResponse, or serviceaccounts/token at \
            RequestResponse. Warnings: no catch-all rule, RequestReceived not omitted, lease renewals, \
            Event writes or health checks recorded, rules that never apply. \
            Exit 0: no errors (warnings allowed); 1: errors; 2: a file could not be read.
            """)

    @Argument(help: "Policy files.")
    var files: [String]

    @Flag(help: "One JSON object per file: {file, findings: [{severity, code, rule, message, redactedBy}]}.")
    var json = false

    @Option(name: .customLong("config"), help: "serve's configuration: with redaction.builtin false, findings name no redaction rule.")
    var configFiles: [String] = []

    @Flag(help: "Check as for a receiver without redaction (serve --no-redaction).")
    var noRedaction = false

    func run() throws {
        var builtinRedaction = !noRedaction
        if !configFiles.isEmpty, builtinRedaction {
            do { builtinRedaction = try ServeConfiguration.load(yamlFiles: configFiles).redaction.builtin } catch let error as ConfigurationError {
                throw ValidationError(error.description)
            }
        }
        var failed = false
        for file in files {
            let text: String
            do { text = String(decoding: try FileIO.readAll(path: file), as: UTF8.self) } catch let e as AuditSealError {
                Console.standardError.write(Data("auditseal: \(e.reason)\n".utf8))
                throw ExitCode(2)
            }
            var findings: [PolicyChecker.Finding]
            do {
                findings = PolicyChecker.check(try AuditPolicy(yaml: text), builtinRedaction: builtinRedaction)
            } catch let e as AuditSealError {
                findings = [PolicyChecker.Finding(severity: .error, code: "schema", rule: nil, message: e.reason)]
            }
            failed = failed || findings.contains { $0.severity == .error }
            if json {
                struct Out: Encodable { var file: String; var findings: [PolicyChecker.Finding] }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(Out(file: file, findings: findings)), as: UTF8.self))
            } else {
                for f in findings { print("\(file): \(f.severity.rawValue): \(f.message) [\(f.code)]") }
                let errors = findings.filter { $0.severity == .error }.count
                print("\(file): \(errors == 0 ? "OK" : "FAILED"): \(errors) error(s), \(findings.count - errors) warning(s)")
            }
        }
        if failed { throw ExitCode(1) }
    }
}
