/// One entry of `sinks:` in `serve`'s configuration (docs/OPERATIONS.md "Forwarding"): a receiver
/// that gets every sealed event (or those its filters select), each with its seal coordinates.
public struct SinkSettings: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// audit.k8s.io/v1 EventList batches, as an API server sends them (Falco's k8saudit).
        case webhook
        /// Splunk HTTP Event Collector, /services/collector/event.
        case splunkHEC = "splunk-hec"
        /// Elasticsearch / OpenSearch bulk API with `_id` = chain ID and index.
        case elasticsearch
        /// OpenTelemetry logs over HTTP (OTLP/HTTP, protobuf or JSON encoding).
        case otlp
    }

    /// OTLP's body encoding.
    public enum Encoding: String, Codable, Sendable {
        case protobuf, json
    }

    /// Names the cursor (DATA_DIR/sinks/NAME.cursor), the dead letters and the metrics.
    public var name: String
    public var type: Kind
    /// The receiver's URL (may be left out when `kubeconfig` names the server): the whole endpoint (webhook, OTLP's /v1/logs, HEC's /services/collector/event) or, for elasticsearch, the base URL (/_bulk is added).
    public var url: String
    /// A file holding a bearer token (webhook, otlp), the HEC token (splunk-hec: `Authorization: Splunk`), or an Elasticsearch API key (`Authorization: ApiKey`).
    public var tokenFile: String?
    /// A CA bundle for https receivers, and a client certificate and key for mutual TLS.
    public var caFile: String?
    public var clientCert: String?
    public var clientKey: String?
    /// A kubeconfig (the format of the API server's `--audit-webhook-config-file`) giving the
    /// server, its CA, a client certificate and key, or a token; `url` and the fields above win
    /// where given.
    public var kubeconfig: String?
    /// splunk-hec: wait for the indexer's acknowledgement of each batch (the channel's
    /// /services/collector/ack) before moving the cursor; a batch not acknowledged within
    /// `ackTimeoutSeconds` is sent again.
    public var indexerAck = false
    public var ackTimeoutSeconds: Double = 300
    /// Events per request.
    public var batchEvents: Int = 500
    /// An event larger than this (bytes, as sent) is cut to its metadata (request and response
    /// objects dropped) and, if still larger, dead-lettered: Falco drops events over 256 KiB.
    public var maxEventBytes: Int?
    /// The same filters as `auditseal cat` (each a list; empty: every value).
    public var users: [String] = []
    public var groups: [String] = []
    public var namespaces: [String] = []
    public var verbs: [String] = []
    public var resources: [String] = []
    public var stages: [String] = []
    public var levels: [String] = []
    /// Members removed from each event before it is sent (e.g. requestObject, responseObject).
    public var drop: [String] = []
    /// HEC: sourcetype and index; Elasticsearch: the index name prefix (`PREFIX-YYYY.MM.DD`).
    public var sourcetype: String = "kube:apiserver:audit"
    public var index: String?
    /// otlp: `protobuf` (application/x-protobuf, the default) or `json`.
    public var encoding: Encoding = .protobuf

    public init(name: String, type: Kind, url: String) {
        self.name = name
        self.type = type
        self.url = url
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case name, type, url, tokenFile, caFile, clientCert, clientKey, kubeconfig, indexerAck, ackTimeoutSeconds, batchEvents, maxEventBytes
        case users, groups, namespaces, verbs, resources, stages, levels, drop, sourcetype, index, encoding
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(Kind.self, forKey: .type)
        url = try c.decodeIfPresent(String.self, forKey: .url) ?? ""
        tokenFile = try c.decodeIfPresent(String.self, forKey: .tokenFile)
        caFile = try c.decodeIfPresent(String.self, forKey: .caFile)
        clientCert = try c.decodeIfPresent(String.self, forKey: .clientCert)
        clientKey = try c.decodeIfPresent(String.self, forKey: .clientKey)
        kubeconfig = try c.decodeIfPresent(String.self, forKey: .kubeconfig)
        indexerAck = try c.decodeIfPresent(Bool.self, forKey: .indexerAck) ?? false
        ackTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .ackTimeoutSeconds) ?? 300
        batchEvents = try c.decodeIfPresent(Int.self, forKey: .batchEvents) ?? 500
        maxEventBytes = try c.decodeIfPresent(Int.self, forKey: .maxEventBytes)
        users = try c.decodeIfPresent([String].self, forKey: .users) ?? []
        groups = try c.decodeIfPresent([String].self, forKey: .groups) ?? []
        namespaces = try c.decodeIfPresent([String].self, forKey: .namespaces) ?? []
        verbs = try c.decodeIfPresent([String].self, forKey: .verbs) ?? []
        resources = try c.decodeIfPresent([String].self, forKey: .resources) ?? []
        stages = try c.decodeIfPresent([String].self, forKey: .stages) ?? []
        levels = try c.decodeIfPresent([String].self, forKey: .levels) ?? []
        drop = try c.decodeIfPresent([String].self, forKey: .drop) ?? []
        sourcetype = try c.decodeIfPresent(String.self, forKey: .sourcetype) ?? "kube:apiserver:audit"
        index = try c.decodeIfPresent(String.self, forKey: .index)
        encoding = try c.decodeIfPresent(Encoding.self, forKey: .encoding) ?? .protobuf
    }

    /// The filter these settings select with (as `cat` would).
    public var filter: EventFilter {
        var f = EventFilter()
        f.users = users; f.groups = groups; f.namespaces = namespaces; f.verbs = verbs
        f.resources = resources; f.stages = stages; f.levels = levels
        return f
    }

    /// Refuses what cannot work, naming the field (`sinks[i].field`).
    public func validate(at i: Int) throws {
        guard RedactionMarker.isValidRule(name) else { throw AuditSealError(.usage, "sinks[\(i)].name: \"\(name)\" must be 1 to 64 of a-z, 0-9 and -") }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") || url.isEmpty && kubeconfig != nil else {
            throw AuditSealError(.usage, "sinks[\(i)].url must be an http(s) URL (or give a kubeconfig that names the server)")
        }
        if indexerAck && type != .splunkHEC { throw AuditSealError(.usage, "sinks[\(i)].indexerAck is for splunk-hec sinks") }
        guard ackTimeoutSeconds > 0 else { throw AuditSealError(.usage, "sinks[\(i)].ackTimeoutSeconds must be positive") }
        guard (1...10_000).contains(batchEvents) else { throw AuditSealError(.usage, "sinks[\(i)].batchEvents must be 1...10000") }
        guard (clientCert == nil) == (clientKey == nil) else { throw AuditSealError(.usage, "sinks[\(i)]: give clientCert and clientKey together") }
        if let m = maxEventBytes, m < 1024 { throw AuditSealError(.usage, "sinks[\(i)].maxEventBytes must be at least 1024") }
    }
}

/// A sink's cursor file, DATA_DIR/sinks/NAME.cursor (docs/FORMAT.md §3): the next index it sends.
public struct SinkCursor: Codable, Sendable {
    public var next: UInt64
    public var updatedAt: String?

    public init(next: UInt64, updatedAt: String?) {
        self.next = next
        self.updatedAt = updatedAt
    }

    /// The file's path inside the data directory.
    public static func relativePath(_ name: String) -> String { "sinks/\(name).cursor" }
    /// Its dead letters' path inside the data directory.
    public static func deadLettersPath(_ name: String) -> String { "sinks/\(name).dead.jsonl" }
}
