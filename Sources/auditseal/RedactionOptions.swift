import ArgumentParser
import AuditSealCore
import AuditSealRedaction
import AuditSealServer
import FoundationEssentials
import Logging
import Metrics

/// Redaction for `import` and `reconcile`: the same rules as `serve` (its `redaction:` section,
/// from the same configuration file), on by default.
struct RedactionOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "serve's configuration file (or directory); its redaction: section applies here too.")
    var configFiles: [String] = []

    @Option(name: .customLong("auditor-key"), help: "An auditor's X25519 public key (auditseal keygen --auditor): the originals of redacted values are encrypted to it in DATA_DIR/vault. Repeatable; adds to redaction.auditorKeys.")
    var auditorKeys: [String] = []

    @Flag(help: "No redaction: credentials in events are sealed as they come.")
    var noRedaction = false

    func stage(dataDirectory: String, logger: Logger) throws -> RedactionStage? {
        var configuration = RedactionConfiguration()
        if !configFiles.isEmpty {
            do { configuration = try ServeConfiguration.load(yamlFiles: configFiles).redaction } catch let error as ConfigurationError {
                throw ValidationError(error.description)
            }
        }
        configuration.auditorKeys += auditorKeys
        if noRedaction {
            configuration.builtin = false
            configuration.personalData = []
            configuration.rules = []
        }
        return try Self.stage(configuration, dataDirectory: dataDirectory, logger: logger)
    }

    /// The redaction stage for a configuration, or nil when every rule is off. Counts per rule reach
    /// /metrics (`auditseal_redactions_total{rule}`); values never reach a log or a metric.
    static func stage(_ configuration: RedactionConfiguration, dataDirectory: String, logger: Logger) throws -> RedactionStage? {
        guard configuration.isActive else {
            logger.warning("redaction is off (redaction.builtin: false and no rules): credentials in audit events are sealed as they come")
            return nil
        }
        let stage: RedactionStage
        do {
            stage = try RedactionStage(configuration: configuration, dataDirectory: dataDirectory) { perRule in
                for (rule, n) in perRule { Counter(label: "auditseal_redactions_total", dimensions: [("rule", rule)]).increment(by: n) }
            }
        } catch let error as AuditSealError {
            throw ValidationError(error.reason)
        }
        if !stage.keepsOriginals {
            logger.warning("no auditor key (redaction.auditorKeys): redacted values are replaced by their markers and not kept anywhere (no reveal)")
        }
        logger.info("redaction on", metadata: ["builtin": "\(configuration.builtin)", "personalData": "\(configuration.personalData)",
                                              "rules": "\(configuration.rules.count)", "auditorKeys": "\(configuration.auditorKeys.count)"])
        return stage
    }
}
