import AuditSealCore
import FoundationEssentials
import AuditSealYAML

/// Everything `auditseal serve` can be told, from the YAML file (`--config`) and flags of the same
/// names. Defaults start a development receiver on loopback.
public struct ServeConfiguration: Codable, Sendable, Equatable {
    /// Where the API servers connect: HOST:PORT.
    public var listen: String = "127.0.0.1:8080"
    /// Optional second listener for /healthz, /readyz and /metrics (plain HTTP), e.g. 127.0.0.1:9090.
    public var opsListen: String?
    /// The data directory.
    public var dataDir: String = "./auditseal-data"
    /// Ed25519 signing key; created (with a loud warning) when missing and autoCreateKey is true.
    public var signingKey: String?
    public var autoCreateKey: Bool = true
    /// This node's name (default: the host name).
    public var node: String?
    /// Server certificate and key (PEM) for HTTPS.
    public var tlsCert: String?
    public var tlsKey: String?
    /// CA bundle that client certificates must chain to (mTLS).
    public var clientCA: String?
    /// Client certificate subject CNs allowed to send events (empty: any certificate from clientCA).
    public var allowedClientCNs: [String] = []
    /// File holding the bearer token senders must present.
    public var tokenFile: String?
    /// Allow plain HTTP on a non-loopback address (never needed in production).
    public var insecureHTTP: Bool = false
    /// Path of the ingest endpoint (matched on the path alone).
    public var ingestPath: String = "/v1/audit"
    /// Largest request body accepted (bytes, after gzip decoding).
    public var maxBodyBytes: Int = 1 << 30
    /// Bodies larger than this (bytes, as received or decoded) are spooled to DATA_DIR/spool and
    /// mapped from there instead of being held in memory.
    public var spoolThresholdBytes: Int = 8 << 20
    /// Memory all request bodies in flight may take together (bytes; an in-memory body counts twice:
    /// received and split into stored lines; a spooled one counts only what it held before
    /// spooling). Over it, requests get 503 + Retry-After: 1.
    public var maxInflightBytes: Int = 256 << 20
    /// Most events in one request: bounds the memory of the event index (136 bytes per
    /// event). The API server sends at most --audit-webhook-batch-max-size (default 400).
    public var maxBatchEvents: Int = 100_000
    /// Batches whose body (decoded) is at least this many bytes are scanned and stored one at a
    /// time, so that a flood of large batches cannot crowd out ordinary ones; 0 = no lane.
    public var largeBatchBytes: Int = 4 << 20
    /// Seconds allowed to receive a whole request body.
    public var bodyTimeoutSeconds: Double = 60
    /// Seconds allowed for a request's headers to arrive (from connect, or from the previous answer).
    public var headerTimeoutSeconds: Double = 30
    /// Seconds an idle connection is kept.
    public var idleTimeoutSeconds: Double = 90
    /// Connections kept open on the main listener. When all are taken, a new connection evicts
    /// one without a request in progress (never served first, then idle longest): see
    /// `ConnectionSlots`.
    public var maxConnections: Int = 4096
    /// Seal the open segment at this many bytes or this age.
    public var segmentMaxBytes: Int = 64 << 20
    /// With shipping, a sealed segment reaches the bucket within about this long plus the upload.
    public var segmentMaxAgeSeconds: Double = 60
    /// Signed heartbeat interval: the longest an acknowledged event goes without a signed
    /// manifest committing to it (and, shipped, the longest before the bucket knows of it).
    public var heartbeatIntervalSeconds: Double = 60
    /// zlib level for sealed segments: 1 seals twice as fast as 6 for files about a fifth larger,
    /// which keeps sealing ahead of 100k events/s on two cores.
    public var gzipLevel: Int = 1
    /// Events remembered to drop re-sent duplicates (same auditID and stage).
    public var duplicateWindow: Int = 100_000
    /// Readiness fails below this much free disk space (bytes).
    public var minFreeBytes: Int = 256 << 20
    /// Re-verify the whole store this often (seconds; 0 disables).
    public var verifyIntervalSeconds: Double = 600
    /// S3 endpoint URL for shipping sealed segments to WORM storage (nil: no shipping).
    public var s3Endpoint: String?
    /// Bucket (created with Object Lock) to ship to.
    public var s3Bucket: String?
    /// Key prefix, one per cluster; each node's store goes under PREFIX/NODE/CHAIN-ID/.
    public var s3Prefix: String = "auditseal"
    public var s3Region: String = "us-east-1"
    /// "path" (https://host/bucket/key) or "virtual" (https://bucket.host/key).
    public var s3Addressing: String = "path"
    /// Object Lock retention from each segment's sealing time (days).
    public var s3RetentionDays: Int = 400
    /// COMPLIANCE or GOVERNANCE.
    public var s3LockMode: String = "COMPLIANCE"
    /// Extra CA bundle (PEM) for the S3 endpoint's certificate.
    public var s3CA: String?
    /// AWS shared-credentials file (default: AWS_* environment variables, then ~/.aws/credentials).
    public var s3CredentialsFile: String?
    /// Delete local segment data this many days after sealing once its upload is confirmed (nil: keep).
    public var localRetentionDays: Double?
    /// Uploads in flight at once; manifests still follow their files, in order.
    public var s3ConcurrentUploads: Int = 6
    /// Witnesses (C2SP tlog-witness) each new sealed checkpoint is submitted to.
    public var witnesses: [WitnessEndpoint] = []
    /// Seconds between retries of a witness that failed (each new checkpoint is offered as it is sealed).
    public var witnessIntervalSeconds: Double = 10
    /// Completeness (docs/OPERATIONS.md, "Completeness"): the API servers' drop counters, and
    /// backfilling from their log files. Absent: no reconciliation.
    public var reconcile: ReconcileSettings?
    /// Forwarding sinks (docs/OPERATIONS.md "Forwarding"): each follows the store and sends every
    /// sealed event with its seal coordinates.
    public var sinks: [SinkSettings] = []
    /// Retention in days of the redaction vault files in the bucket (GOVERNANCE); absent: none.
    public var s3VaultRetentionDays: Int?
    /// Redaction before the chain (docs/OPERATIONS.md "Redaction"): the built-in credential rules
    /// are on unless `builtin: false`.
    public var redaction = RedactionConfiguration()

    public init() {}

    /// The signing key's file: `signingKey`, or DATA_DIR/signing.key.
    public var keyPath: String { signingKey ?? dataDir + "/signing.key" }

    /// `reconcile:` in the YAML file.
    public struct ReconcileSettings: Codable, Sendable, Equatable {
        /// The API server's --audit-log-path on this node (mounted read-only); rotated files beside it are read too.
        public var auditLogPaths: [String] = []
        /// Seconds between reconciliation passes.
        public var intervalSeconds: Double = 30
        /// Only events at least this old are reconciled (the webhook's batching and retries take minutes).
        public var settleSeconds: Double = 300
        /// How long the (auditID, stage) index remembers events, and so how far back reconciliation reaches.
        public var horizonHours: Double = 168
        /// API servers whose /metrics are scraped for audit drops.
        public var apiServers: [APIServer] = []
        /// Seconds between scrapes.
        public var scrapeIntervalSeconds: Double = 30

        public init() {}

        /// One API server's /metrics: a kubeconfig, or a URL with a bearer-token file and CA bundle
        /// (a ServiceAccount's, bound to a ClusterRole allowing get on the non-resource URL /metrics).
        public struct APIServer: Codable, Sendable, Equatable {
            public var name: String?
            public var kubeconfig: String?
            public var url: String?
            public var tokenFile: String?
            public var caFile: String?
            public var insecureSkipTLSVerify: Bool?
            public init() {}

            enum CodingKeys: String, CodingKey, CaseIterable {
                case name, kubeconfig, url, tokenFile, caFile, insecureSkipTLSVerify
            }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case auditLogPaths, intervalSeconds, settleSeconds, horizonHours, apiServers, scrapeIntervalSeconds
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            auditLogPaths = try c.decodeIfPresent([String].self, forKey: .auditLogPaths) ?? []
            intervalSeconds = try c.decodeIfPresent(Double.self, forKey: .intervalSeconds) ?? 30
            settleSeconds = try c.decodeIfPresent(Double.self, forKey: .settleSeconds) ?? 300
            horizonHours = try c.decodeIfPresent(Double.self, forKey: .horizonHours) ?? 168
            apiServers = try c.decodeIfPresent([APIServer].self, forKey: .apiServers) ?? []
            scrapeIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .scrapeIntervalSeconds) ?? 30
        }

        func validate() throws {
            guard intervalSeconds > 0, scrapeIntervalSeconds > 0 else { throw ConfigurationError("reconcile: intervalSeconds and scrapeIntervalSeconds must be positive") }
            guard settleSeconds >= 0, horizonHours > 0 else { throw ConfigurationError("reconcile: settleSeconds must be ≥ 0 and horizonHours > 0") }
            for (i, s) in apiServers.enumerated() {
                guard (s.kubeconfig == nil) != (s.url == nil) else { throw ConfigurationError("reconcile.apiServers[\(i)]: give kubeconfig or url, not both") }
                if let url = s.url, !url.hasPrefix("https://") && !url.hasPrefix("http://") { throw ConfigurationError("reconcile.apiServers[\(i)].url must be an http(s) URL") }
            }
        }
    }

    /// A witness: its add-checkpoint URL prefix and its verifier key (`name+keyID+base64(0x04||key)`).
    public struct WitnessEndpoint: Codable, Sendable, Equatable {
        public var url: String
        public var key: String
        public init(url: String, key: String) {
            self.url = url
            self.key = key
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case url, key }
    }

    /// Each setting as `ServeSetting.all` declares it; a setting the file leaves out keeps its default.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: ServeSetting.SettingKey.self)
        var d = ServeConfiguration()
        for setting in ServeSetting.all { try setting.decode(c, &d) }
        self = d
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ServeSetting.SettingKey.self)
        for setting in ServeSetting.all { try setting.encode(&c, self) }
    }

    /// Reads a YAML file, or every `*.yaml`/`*.yml` file of a directory in name order (a mounted
    /// ConfigMap: the base's `auditseal.yaml`, then what an overlay adds beside it); unknown fields
    /// and wrong types are errors that name the file and the field.
    public static func load(yamlFile path: String) throws -> ServeConfiguration {
        try load(yamlFiles: [path])
    }

    /// Reads several files (or directories, expanded as above) in order: a later file's top-level
    /// field replaces the same field of an earlier one whole; fields it does not name are kept.
    public static func load(yamlFiles paths: [String]) throws -> ServeConfiguration {
        var sources = [(text: String, source: String)]()
        for path in paths {
            var isDirectory = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory {
                let names = try FileIO.list(path).filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }.sorted()
                guard !names.isEmpty else { throw ConfigurationError("\(path): a directory without *.yaml files") }
                for name in names { sources.append((String(decoding: try FileIO.readAll(path: path + "/" + name), as: UTF8.self), path + "/" + name)) }
            } else {
                sources.append((String(decoding: try FileIO.readAll(path: path), as: UTF8.self), path))
            }
        }
        return try load(yamlDocuments: sources)
    }

    /// Reads YAML text; `source` names it in errors.
    public static func load(yaml text: String, source path: String) throws -> ServeConfiguration {
        try load(yamlDocuments: [(text, path)])
    }

    /// Documents merged by top-level field, later ones winning, then decoded once.
    static func load(yamlDocuments documents: [(text: String, source: String)]) throws -> ServeConfiguration {
        var merged = Node.Mapping([])
        var sourceOf = [String: String]()
        for (text, path) in documents {
            let root: Node?
            do { root = try YAMLDocument.compose(text) } catch let error as YAMLDocument.NumberOutOfRange {
                throw ConfigurationError("\(path): \(error)")
            } catch let error as YAMLSyntaxError {
                throw ConfigurationError("\(path): not YAML: \(error)")
            }
            guard let root else { continue }
            guard case .mapping(let mapping) = root else { throw ConfigurationError("\(path): not a mapping of fields") }
            try checkFields(mapping, schema: Self.schema, path: "", source: path)
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                merged[name] = value
                sourceOf[name] = path
            }
        }
        do {
            return try YAMLDecoder().decode(ServeConfiguration.self, from: Node.mapping(merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigurationError("\(Self.source(of: field, sourceOf, documents)): field \"\(field)\" has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigurationError("\(Self.source(of: field, sourceOf, documents)): field \"\(field)\": \(context.debugDescription)")
        }
    }

    private static func source(of field: String, _ sourceOf: [String: String], _ documents: [(text: String, source: String)]) -> String {
        sourceOf[String(field.prefix { $0 != "." })] ?? documents.map(\.source).joined(separator: ", ")
    }

    /// The fields a mapping may hold, and the schemas of its nested mappings (or lists of mappings).
    struct FieldSchema: Sendable {
        var known: Set<String>
        var nested: [String: FieldSchema] = [:]
    }

    /// Every level of the file is checked as the top level is: a typo inside `reconcile:` is as
    /// much an error as one at the top.
    static var schema: FieldSchema {
        let settings = ServeSetting.all
        return FieldSchema(known: Set(settings.map(\.key)),
                           nested: Dictionary(uniqueKeysWithValues: settings.compactMap { s in s.schema.map { (s.key, $0) } }))
    }

    /// Refuses a field that is not known at its level, naming it with its full path.
    private static func checkFields(_ mapping: Node.Mapping, schema: FieldSchema, path: String, source: String) throws {
        for (key, value) in mapping {
            guard let name = key.string else { continue }
            let full = path.isEmpty ? name : path + "." + name
            guard schema.known.contains(name) else { throw ConfigurationError("\(source): unknown field \"\(full)\"") }
            guard let inner = schema.nested[name] else { continue }
            switch value {
            case .mapping(let m):
                try checkFields(m, schema: inner, path: full, source: source)
            case .sequence(let items):
                for (i, item) in items.enumerated() {
                    if case .mapping(let m) = item { try checkFields(m, schema: inner, path: "\(full)[\(i)]", source: source) }
                }
            default:
                continue
            }
        }
    }

    /// Checks values; the error names the field.
    public func validate() throws {
        guard HostPort(listen) != nil else { throw ConfigurationError("listen: \"\(listen)\" is not HOST:PORT") }
        if let opsListen, HostPort(opsListen) == nil { throw ConfigurationError("opsListen: \"\(opsListen)\" is not HOST:PORT") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ConfigurationError("tlsCert and tlsKey must be given together") }
        if clientCA != nil && tlsCert == nil { throw ConfigurationError("clientCA needs tlsCert and tlsKey (client certificates need HTTPS)") }
        guard ingestPath.hasPrefix("/") else { throw ConfigurationError("ingestPath must start with /") }
        guard maxBodyBytes > 0, maxBodyBytes < Int(Int32.max) else { throw ConfigurationError("maxBodyBytes must be positive and below 2 GiB") }
        guard spoolThresholdBytes > 0 else { throw ConfigurationError("spoolThresholdBytes must be positive") }
        guard maxInflightBytes >= 4 * spoolThresholdBytes else {
            throw ConfigurationError("maxInflightBytes must be at least four times spoolThresholdBytes (a gzip body is held compressed and decoded)")
        }
        guard maxBatchEvents > 0 else { throw ConfigurationError("maxBatchEvents must be positive") }
        guard largeBatchBytes >= 0 else { throw ConfigurationError("largeBatchBytes must not be negative (0 turns the lane off)") }
        guard bodyTimeoutSeconds > 0 else { throw ConfigurationError("bodyTimeoutSeconds must be positive") }
        guard headerTimeoutSeconds > 0 else { throw ConfigurationError("headerTimeoutSeconds must be positive") }
        guard maxConnections > 0 else { throw ConfigurationError("maxConnections must be positive") }
        guard segmentMaxBytes > 0 else { throw ConfigurationError("segmentMaxBytes must be positive") }
        guard heartbeatIntervalSeconds > 0 else { throw ConfigurationError("heartbeatIntervalSeconds must be positive") }
        guard (0...9).contains(gzipLevel) else { throw ConfigurationError("gzipLevel must be 0...9") }
        guard duplicateWindow >= 0 else { throw ConfigurationError("duplicateWindow must not be negative") }
        guard (s3Endpoint == nil) == (s3Bucket == nil) else { throw ConfigurationError("s3Endpoint and s3Bucket must be given together") }
        guard s3Addressing == "path" || s3Addressing == "virtual" else { throw ConfigurationError("s3Addressing must be path or virtual") }
        if localRetentionDays != nil && s3Endpoint == nil {
            throw ConfigurationError("localRetentionDays needs s3Endpoint: local data is only deleted once it is shipped")
        }
        guard witnessIntervalSeconds > 0 else { throw ConfigurationError("witnessIntervalSeconds must be positive") }
        for (i, w) in witnesses.enumerated() {
            guard w.url.hasPrefix("http://") || w.url.hasPrefix("https://") else { throw ConfigurationError("witnesses[\(i)].url must be an http(s) URL") }
            do { _ = try WitnessKey(verifierKey: w.key) } catch { throw ConfigurationError("witnesses[\(i)].key: \(error)") }
        }
        try reconcile?.validate()
        do { try redaction.validate() } catch let error as AuditSealError { throw ConfigurationError(error.reason) }
        for (i, sink) in sinks.enumerated() {
            do { try sink.validate(at: i) } catch let error as AuditSealError { throw ConfigurationError(error.reason) }
            if sinks[..<i].contains(where: { $0.name == sink.name }) { throw ConfigurationError("sinks[\(i)].name: \"\(sink.name)\" is used twice") }
        }
        if tlsCert == nil, let hp = HostPort(listen), !hp.isLoopback, !insecureHTTP {
            throw ConfigurationError("listen: plain HTTP on \(listen) is not a loopback address; give tlsCert/tlsKey, or insecureHTTP: true")
        }
    }
}

/// A configuration problem, named for the person fixing it.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// HOST:PORT, with [v6]:port accepted.
public struct HostPort: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }

    /// Whether the host is a loopback address or name.
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}
