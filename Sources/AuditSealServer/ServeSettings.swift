import AuditSealCore
import FoundationEssentials

/// One `serve` setting: its YAML key, its flag, its help, and how it is read from the YAML file and
/// from the command line; its default is the value in `ServeConfiguration()`. The table `all` is
/// the one place a setting is declared besides its field: the YAML decoder, the check for unknown
/// fields, the command line and `serve --help` are all driven by it.
///
/// swift-configuration (in the dependency graph through Hummingbird) was evaluated for this and not
/// used: its readers take scalar values and arrays of scalars by dotted key, while this file holds
/// lists of mappings (`sinks`, `witnesses`, `reconcile.apiServers`, `redaction.rules`) that must be
/// refused field by field with the file and path named, and its command-line provider would sit
/// beside ArgumentParser's parsing of every other command.
public struct ServeSetting: Sendable {
    public enum Kind: Sendable {
        /// `--flag VALUE` (or `--flag=VALUE`).
        case value
        /// `--flag` alone sets it to true.
        case flag
        /// `--flag VALUE`, repeatable; given on the command line, the values replace the file's list.
        case list
        /// A mapping or list of mappings: YAML only.
        case structured
    }

    /// The YAML key.
    public let key: String
    /// The command-line flag (without `--`); nil for YAML-only settings.
    public let flag: String?
    public let kind: Kind
    public let help: String
    /// The schemas of the mappings inside a structured setting (unknown fields are refused).
    let schema: ServeConfiguration.FieldSchema?
    let decode: @Sendable (KeyedDecodingContainer<SettingKey>, inout ServeConfiguration) throws -> Void
    let encode: @Sendable (inout KeyedEncodingContainer<SettingKey>, ServeConfiguration) throws -> Void
    let set: @Sendable ([String], inout ServeConfiguration) throws -> Void
    let defaultText: @Sendable (ServeConfiguration) -> String?

    struct SettingKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ key: String) { stringValue = key }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    // MARK: Kinds of setting

    static func value<T: Codable & LosslessStringConvertible & Sendable>(
        _ key: String, _ path: WritableKeyPath<ServeConfiguration, T> & Sendable, flag: String? = nil, _ help: String
    ) -> ServeSetting {
        ServeSetting(key: key, flag: flag ?? kebab(key), kind: T.self == Bool.self ? .flag : .value, help: help, schema: nil,
                     decode: { c, config in if let v = try c.decodeIfPresent(T.self, forKey: SettingKey(key)) { config[keyPath: path] = v } },
                     encode: { c, config in try c.encodeIfPresent(config[keyPath: path], forKey: SettingKey(key)) },
                     set: { values, config in config[keyPath: path] = try parse(values.last!, as: T.self, flag: flag ?? kebab(key)) },
                     defaultText: { describe(key, $0[keyPath: path]) })
    }

    static func optional<T: Codable & LosslessStringConvertible & Sendable>(
        _ key: String, _ path: WritableKeyPath<ServeConfiguration, T?> & Sendable, _ help: String
    ) -> ServeSetting {
        ServeSetting(key: key, flag: kebab(key), kind: .value, help: help, schema: nil,
                     decode: { c, config in if let v = try c.decodeIfPresent(T.self, forKey: SettingKey(key)) { config[keyPath: path] = v } },
                     encode: { c, config in try c.encodeIfPresent(config[keyPath: path], forKey: SettingKey(key)) },
                     set: { values, config in config[keyPath: path] = try parse(values.last!, as: T.self, flag: kebab(key)) },
                     defaultText: { $0[keyPath: path].map { describe(key, $0) } })
    }

    static func list(_ key: String, _ path: WritableKeyPath<ServeConfiguration, [String]> & Sendable, flag: String, _ help: String) -> ServeSetting {
        ServeSetting(key: key, flag: flag, kind: .list, help: help, schema: nil,
                     decode: { c, config in if let v = try c.decodeIfPresent([String].self, forKey: SettingKey(key)) { config[keyPath: path] = v } },
                     encode: { c, config in try c.encodeIfPresent(config[keyPath: path], forKey: SettingKey(key)) },
                     set: { values, config in config[keyPath: path] = values },
                     defaultText: { $0[keyPath: path].isEmpty ? nil : $0[keyPath: path].joined(separator: ", ") })
    }

    static func structured<T: Codable & Sendable>(
        _ key: String, _ path: WritableKeyPath<ServeConfiguration, T> & Sendable, schema: ServeConfiguration.FieldSchema, _ help: String
    ) -> ServeSetting {
        ServeSetting(key: key, flag: nil, kind: .structured, help: help, schema: schema,
                     decode: { c, config in if let v = try c.decodeIfPresent(T.self, forKey: SettingKey(key)) { config[keyPath: path] = v } },
                     encode: { c, config in try c.encodeIfPresent(config[keyPath: path], forKey: SettingKey(key)) },
                     set: { _, _ in }, defaultText: { _ in nil })
    }

    static func structured<T: Codable & Sendable>(
        _ key: String, _ path: WritableKeyPath<ServeConfiguration, T?> & Sendable, schema: ServeConfiguration.FieldSchema, _ help: String
    ) -> ServeSetting {
        ServeSetting(key: key, flag: nil, kind: .structured, help: help, schema: schema,
                     decode: { c, config in if let v = try c.decodeIfPresent(T.self, forKey: SettingKey(key)) { config[keyPath: path] = v } },
                     encode: { c, config in try c.encodeIfPresent(config[keyPath: path], forKey: SettingKey(key)) },
                     set: { _, _ in }, defaultText: { _ in nil })
    }

    /// `segmentMaxAgeSeconds` → `segment-max-age-seconds`, `clientCA` → `client-ca`, `s3CA` → `s3-ca`.
    public static func kebab(_ key: String) -> String {
        let chars = Array(key)
        var out = ""
        for (i, ch) in chars.enumerated() {
            if ch.isUppercase && i > 0 {
                let previous = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) { out.append("-") }
            }
            out.append(Character(ch.lowercased()))
        }
        return out
    }

    private static func parse<T: LosslessStringConvertible>(_ text: String, as: T.Type, flag: String) throws -> T {
        guard let value = T(text) else { throw ConfigurationError("--\(flag): \"\(text)\" is not \(T.self == Int.self ? "an integer" : T.self == Double.self ? "a number" : "valid")") }
        return value
    }

    /// A default as help shows it: byte counts in KiB, MiB or GiB when whole.
    private static func describe<T>(_ key: String, _ value: T) -> String {
        if key.hasSuffix("Bytes"), let n = value as? Int, n > 0 {
            for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] where n % (1 << shift) == 0 { return "\(n >> shift) \(unit)" }
        }
        if let d = value as? Double, d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return "\(value)"
    }
}

extension ServeSetting {
    /// Every setting of `serve`, in the order `--help` shows them.
    public static var all: [ServeSetting] {
        typealias C = ServeConfiguration
        return [
            .value("listen", \C.listen, "Where the API servers connect, HOST:PORT; plain HTTP is refused off loopback without TLS."),
            .optional("opsListen", \C.opsListen, "Extra plain-HTTP listener for /healthz, /readyz and /metrics, HOST:PORT."),
            .value("dataDir", \C.dataDir, "The data directory."),
            .optional("signingKey", \C.signingKey, "Ed25519 signing key (PEM, mode 0600). Default DATA_DIR/signing.key."),
            .value("autoCreateKey", \C.autoCreateKey, "Create the signing key (with a loud warning) when it is missing."),
            .optional("node", \C.node, "This node's name in manifests. Default: the host name."),
            .optional("tlsCert", \C.tlsCert, "Server certificate (PEM) for HTTPS."),
            .optional("tlsKey", \C.tlsKey, "Server private key (PEM)."),
            .optional("clientCA", \C.clientCA, "CA bundle that client certificates must chain to (mTLS)."),
            .list("allowedClientCNs", \C.allowedClientCNs, flag: "allowed-client-cn", "Client certificate CN allowed to send events; repeatable (none: any certificate from clientCA)."),
            .optional("tokenFile", \C.tokenFile, "File holding the bearer token senders must present (re-read as it changes)."),
            .value("insecureHTTP", \C.insecureHTTP, "Allow plain HTTP on a non-loopback address (never needed in production)."),
            .value("ingestPath", \C.ingestPath, "Path of the ingest endpoint."),
            .value("maxBodyBytes", \C.maxBodyBytes, "Largest request body, after gzip decoding; over it 413."),
            .value("spoolThresholdBytes", \C.spoolThresholdBytes, "Bodies over this size are spooled to DATA_DIR/spool and mapped, not held in memory."),
            .value("maxInflightBytes", \C.maxInflightBytes, "Memory all bodies in flight may take together; over it 503 + Retry-After."),
            .value("maxBatchEvents", \C.maxBatchEvents, "Most events in one request; over it 413."),
            .value("largeBatchBytes", \C.largeBatchBytes, "Batches at least this large (decoded) are stored one at a time, so that a flood of large batches cannot crowd out ordinary ones; 0 = off."),
            .value("bodyTimeoutSeconds", \C.bodyTimeoutSeconds, "Seconds to receive a whole body; over it 408."),
            .value("headerTimeoutSeconds", \C.headerTimeoutSeconds, "Seconds for a request's headers to arrive."),
            .value("idleTimeoutSeconds", \C.idleTimeoutSeconds, "Seconds an idle connection is kept."),
            .value("maxConnections", \C.maxConnections, "Connections kept open; when all are taken a new one evicts an idle one (never served first)."),
            .value("segmentMaxBytes", \C.segmentMaxBytes, "Seal the open segment at this size."),
            .value("segmentMaxAgeSeconds", \C.segmentMaxAgeSeconds, "Seal the open segment at this age."),
            .value("heartbeatIntervalSeconds", \C.heartbeatIntervalSeconds, "Signed heartbeat interval: the longest an acknowledged event waits for a signed manifest."),
            .value("gzipLevel", \C.gzipLevel, "zlib level of sealed segments (1 is fast; 6-9 for smaller files)."),
            .value("duplicateWindow", \C.duplicateWindow, "Recent events remembered to drop re-sent duplicates (same auditID and stage)."),
            .value("minFreeBytes", \C.minFreeBytes, "Readiness fails below this much free disk space."),
            .value("verifyIntervalSeconds", \C.verifyIntervalSeconds, "Re-verify the store every N seconds; 0 = never."),
            .optional("s3Endpoint", \C.s3Endpoint, "S3 endpoint URL to ship sealed segments to, e.g. https://s3.eu-west-1.amazonaws.com (absent: no shipping)."),
            .optional("s3Bucket", \C.s3Bucket, "Bucket with Object Lock enabled."),
            .value("s3Prefix", \C.s3Prefix, "Key prefix for this cluster; stores go under PREFIX/NODE/CHAIN-ID/."),
            .value("s3Region", \C.s3Region, "Signing region."),
            .value("s3Addressing", \C.s3Addressing, "path (https://host/bucket/key) or virtual (https://bucket.host/key)."),
            .value("s3RetentionDays", \C.s3RetentionDays, "Object Lock retention from sealing, in days. For verify: the minimum required."),
            .value("s3LockMode", \C.s3LockMode, "COMPLIANCE or GOVERNANCE. For verify: the mode required."),
            .optional("s3CA", \C.s3CA, "Extra CA bundle (PEM) for the endpoint's certificate."),
            .optional("s3CredentialsFile", \C.s3CredentialsFile, "AWS shared-credentials file. Default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then ~/.aws/credentials (profile AWS_PROFILE or default)."),
            .value("s3ConcurrentUploads", \C.s3ConcurrentUploads, "Uploads in flight at once; manifests follow their files, in order."),
            .optional("localRetentionDays", \C.localRetentionDays, "Delete local segment data N days after sealing once its upload is confirmed (absent: keep)."),
            .optional("s3VaultRetentionDays", \C.s3VaultRetentionDays, "Retention in days of the redaction vault files in the bucket (GOVERNANCE; absent: none)."),
            .structured("witnesses", \C.witnesses, schema: .init(known: Set(C.WitnessEndpoint.CodingKeys.allCases.map(\.rawValue))),
                        "Witnesses (C2SP tlog-witness) each sealed checkpoint is submitted to: a list of {url, key}."),
            .value("witnessIntervalSeconds", \C.witnessIntervalSeconds, "Seconds between retries of a witness that failed."),
            .structured("reconcile", \C.reconcile, schema: .init(known: Set(C.ReconcileSettings.CodingKeys.allCases.map(\.rawValue)), nested: [
                "apiServers": .init(known: Set(C.ReconcileSettings.APIServer.CodingKeys.allCases.map(\.rawValue))),
            ]), "Completeness: the API servers' drop counters and backfilling from their log files (docs/OPERATIONS.md)."),
            .structured("sinks", \C.sinks, schema: .init(known: Set(SinkSettings.CodingKeys.allCases.map(\.rawValue))),
                        "Forwarding sinks that follow the store (docs/OPERATIONS.md \"Forwarding\")."),
            .structured("redaction", \C.redaction, schema: .init(known: Set(RedactionConfiguration.CodingKeys.allCases.map(\.rawValue)), nested: [
                "rules": .init(known: Set(RedactionConfiguration.Rule.CodingKeys.allCases.map(\.rawValue))),
            ]), "Redaction before the chain; the built-in credential rules are on unless builtin: false (docs/OPERATIONS.md)."),
        ]
    }

    /// The setting with this YAML key (for help shared with other commands' options).
    public static func named(_ key: String) -> ServeSetting {
        all.first { $0.key == key }!
    }

    /// Help with the YAML key and default, as `--help` shows it: `HELP [yamlKey]. Default X.`
    public var fullHelp: String {
        var text = help.hasSuffix(".") ? String(help.dropLast()) : help
        text += " [\(key)]."
        if let shown = defaultText(ServeConfiguration()), !help.contains("Default") { text += " Default \(shown)." }
        return text
    }

    /// Applies command-line arguments (`--flag VALUE`, `--flag=VALUE`, `--switch`) over a configuration;
    /// a list flag given replaces the file's list. Unknown flags and missing values are errors.
    public static func apply(arguments: [String], to configuration: inout ServeConfiguration) throws {
        let byFlag = Dictionary(uniqueKeysWithValues: all.compactMap { s in s.flag.map { ($0, s) } })
        var given = [(setting: ServeSetting, values: [String])]()
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--") else { throw ConfigurationError("unexpected argument \"\(argument)\"") }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let setting = byFlag[name] else { throw ConfigurationError("unknown option --\(name) (see auditseal serve --help)") }
            if setting.kind == .flag {
                given.append((setting, [value ?? "true"]))
                continue
            }
            if value == nil {
                guard i < arguments.count else { throw ConfigurationError("--\(name) needs a value") }
                value = arguments[i]
                i += 1
            }
            if let at = given.firstIndex(where: { $0.setting.key == setting.key }) { given[at].values.append(value!) } else { given.append((setting, [value!])) }
        }
        for (setting, values) in given { try setting.set(values, &configuration) }
    }

    /// The settings' part of `serve --help`, one paragraph each (ArgumentParser wraps them).
    public static var helpText: String {
        var lines = ["SETTINGS (each also a YAML field of --config, named in brackets; flags win over the file; a switch takes --NAME=false too):"]
        for s in all {
            guard let flag = s.flag else { continue }
            let usage = s.kind == .flag ? "--\(flag)" : s.kind == .list ? "--\(flag) <value> (repeatable)" : "--\(flag) <value>"
            lines.append("")
            lines.append("\(usage)  \(s.fullHelp)")
        }
        lines.append("")
        lines.append("YAML only: " + all.filter { $0.flag == nil }.map { "\($0.key): \($0.help)" }.joined(separator: " "))
        return lines.joined(separator: "\n")
    }
}
