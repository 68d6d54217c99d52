import AuditSealCore
import Foundation

/// Where an event sits in the sealed record: enough for `auditseal prove --index` and
/// `verify-proof` to prove a hit in the SIEM.
public struct SealCoordinates: Sendable, Equatable {
    public var node: String
    public var chainID: String
    public var index: UInt64
}

/// One event as a sink sends it: the stored line, projected (members dropped), with its coordinates.
struct OutgoingEvent {
    var index: UInt64
    var object: [String: Any]
    var coordinates: SealCoordinates
    var stageTimestamp: String? { object["stageTimestamp"] as? String }
}

/// The request bodies of each protocol (docs/OPERATIONS.md "Forwarding").
enum SinkEncoder {
    /// The coordinates as members of the event (splunk-hec, elasticsearch, otlp bodies).
    static func withCoordinates(_ e: OutgoingEvent) -> [String: Any] {
        var object = e.object
        object["auditseal"] = ["node": e.coordinates.node, "chainID": e.coordinates.chainID, "index": e.coordinates.index]
        return object
    }

    static func json(_ value: Any) throws -> [UInt8] {
        Array(try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
    }

    /// webhook: an audit.k8s.io/v1 EventList as the API server sends it; the coordinates go in each
    /// event's `annotations` (a map of strings in the Event schema), so every consumer of the
    /// schema (Falco's k8saudit) reads the events unchanged.
    static func webhook(_ events: [OutgoingEvent]) throws -> [UInt8] {
        let items: [[String: Any]] = events.map { e in
            var object = e.object
            var annotations = object["annotations"] as? [String: Any] ?? [:]
            annotations["auditseal.io/node"] = e.coordinates.node
            annotations["auditseal.io/chain-id"] = e.coordinates.chainID
            annotations["auditseal.io/index"] = String(e.coordinates.index)
            object["annotations"] = annotations
            return object
        }
        return try json(["kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": [String: Any](), "items": items])
    }

    /// splunk-hec: one event object after another (the collector's batch form), time in epoch seconds.
    static func splunk(_ events: [OutgoingEvent], sourcetype: String, index: String?) throws -> [UInt8] {
        var out = [UInt8]()
        for e in events {
            var wrapper: [String: Any] = ["host": e.coordinates.node, "source": "auditseal", "sourcetype": sourcetype,
                                          "event": withCoordinates(e),
                                          "fields": ["auditseal_node": e.coordinates.node, "auditseal_chain_id": e.coordinates.chainID,
                                                     "auditseal_index": String(e.coordinates.index)]]
            if let t = e.stageTimestamp.flatMap(Timestamp.parse) { wrapper["time"] = (t.timeIntervalSince1970 * 1000).rounded() / 1000 }
            if let index { wrapper["index"] = index }
            out += try json(wrapper)
            out.append(0x0a)
        }
        return out
    }

    /// elasticsearch: bulk `create` actions with `_id` = chain ID and index, so that a batch sent
    /// again makes no duplicate (the second create answers 409, counted as delivered); one index a
    /// day by the event's stageTimestamp.
    static func elasticsearch(_ events: [OutgoingEvent], prefix: String) throws -> [UInt8] {
        var out = [UInt8]()
        for e in events {
            let day = e.stageTimestamp.map { String($0.prefix(10)).replacingOccurrences(of: "-", with: ".") } ?? "unknown"
            out += try json(["create": ["_index": "\(prefix)-\(day)", "_id": documentID(e.coordinates)]])
            out.append(0x0a)
            var document = withCoordinates(e)
            if let t = e.stageTimestamp { document["@timestamp"] = t }
            out += try json(document)
            out.append(0x0a)
        }
        return out
    }

    static func documentID(_ c: SealCoordinates) -> String { "\(c.chainID)-\(c.index)" }

    /// One OTLP log record: the event (with its coordinates) as the body, the Kubernetes
    /// semantic-convention attributes and the seal coordinates beside it.
    struct LogRecord {
        enum Value { case string(String), int(Int64) }
        var timeUnixNano: UInt64
        var body: String
        var attributes: [(key: String, value: Value)]
    }

    /// The log records of a batch, grouped by node (one OTLP resource each), in chain order.
    static func logRecords(_ events: [OutgoingEvent]) throws -> [(node: String, records: [LogRecord])] {
        var byNode = [(node: String, records: [LogRecord])]()
        for e in events {
            let nanos = e.stageTimestamp.flatMap(Timestamp.parse).map { UInt64($0.timeIntervalSince1970 * 1_000_000) * 1000 } ?? 0
            let objectRef = e.object["objectRef"] as? [String: Any]
            let user = e.object["user"] as? [String: Any]
            var attributes: [(key: String, value: LogRecord.Value)] = [
                ("auditseal.node", .string(e.coordinates.node)), ("auditseal.chain_id", .string(e.coordinates.chainID)),
                ("auditseal.index", .int(Int64(e.coordinates.index))),
            ]
            for (key, value) in [("k8s.namespace.name", objectRef?["namespace"]), ("k8s.audit.verb", e.object["verb"]),
                                 ("k8s.audit.resource", objectRef?["resource"]), ("k8s.audit.audit_id", e.object["auditID"]),
                                 ("user.name", user?["username"])] {
                if let text = value as? String { attributes.append((key, .string(text))) }
            }
            let record = LogRecord(timeUnixNano: nanos, body: String(decoding: try json(withCoordinates(e)), as: UTF8.self), attributes: attributes)
            if let i = byNode.firstIndex(where: { $0.node == e.coordinates.node }) { byNode[i].records.append(record) } else { byNode.append((e.coordinates.node, [record])) }
        }
        return byNode
    }

    static func resourceAttributes(_ node: String) -> [(key: String, value: LogRecord.Value)] {
        [("service.name", .string("kube-apiserver-audit")), ("k8s.node.name", .string(node))]
    }

    /// otlp, `encoding: json`: OTLP/HTTP logs in the JSON encoding (64-bit integers as strings).
    static func otlpJSON(_ events: [OutgoingEvent]) throws -> [UInt8] {
        func attribute(_ a: (key: String, value: LogRecord.Value)) -> [String: Any] {
            switch a.value {
            case .string(let s): return ["key": a.key, "value": ["stringValue": s]]
            case .int(let i): return ["key": a.key, "value": ["intValue": String(i)]]
            }
        }
        let resourceLogs: [[String: Any]] = try logRecords(events).map { node, records in
            ["resource": ["attributes": resourceAttributes(node).map(attribute)],
             "scopeLogs": [["scope": ["name": "auditseal"], "logRecords": records.map { r -> [String: Any] in
                 ["timeUnixNano": String(r.timeUnixNano), "observedTimeUnixNano": String(r.timeUnixNano), "severityNumber": 9,
                  "severityText": "INFO", "body": ["stringValue": r.body], "attributes": r.attributes.map(attribute)]
             }]]]
        }
        return try json(["resourceLogs": resourceLogs])
    }

    /// otlp, `encoding: protobuf` (the default): an ExportLogsServiceRequest in the Protocol
    /// Buffers wire format (opentelemetry-proto logs/v1, common/v1, resource/v1; field numbers in
    /// the comments).
    static func otlpProtobuf(_ events: [OutgoingEvent]) throws -> [UInt8] {
        func keyValue(_ w: inout ProtobufWriter, _ field: Int, _ a: (key: String, value: LogRecord.Value)) {
            w.message(field) { kv in
                kv.string(1, a.key)  // KeyValue.key
                kv.message(2) { v in  // KeyValue.value: AnyValue
                    switch a.value {
                    case .string(let s): v.string(1, s)  // string_value
                    case .int(let i): v.uint(3, UInt64(bitPattern: i))  // int_value
                    }
                }
            }
        }
        var request = ProtobufWriter()
        for (node, records) in try logRecords(events) {
            request.message(1) { rl in  // ExportLogsServiceRequest.resource_logs
                rl.message(1) { resource in for a in resourceAttributes(node) { keyValue(&resource, 1, a) } }  // Resource.attributes
                rl.message(2) { sl in  // ResourceLogs.scope_logs
                    sl.message(1) { $0.string(1, "auditseal") }  // ScopeLogs.scope: InstrumentationScope.name
                    for r in records {
                        sl.message(2) { lr in  // ScopeLogs.log_records
                            lr.fixed64(1, r.timeUnixNano)  // time_unix_nano
                            lr.uint(2, 9)  // severity_number: INFO
                            lr.string(3, "INFO")  // severity_text
                            lr.message(5) { $0.string(1, r.body) }  // body: AnyValue.string_value
                            for a in r.attributes { keyValue(&lr, 6, a) }  // attributes
                            lr.fixed64(11, r.timeUnixNano)  // observed_time_unix_nano
                        }
                    }
                }
            }
        }
        return request.bytes
    }
}

/// The Protocol Buffers wire format (protobuf.dev/programming-guides/encoding), the four kinds of
/// field OTLP's logs need: varint, 64-bit, and length-delimited strings and messages. Written here
/// rather than generated with swift-protobuf: one message tree, encoded only, and no compiler step.
struct ProtobufWriter {
    var bytes = [UInt8]()

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }
    mutating func uint(_ field: Int, _ value: UInt64) { tag(field, 0); varint(value) }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, 1)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        tag(field, 2)
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func string(_ field: Int, _ text: String) { lengthDelimited(field, Array(text.utf8)) }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        lengthDelimited(field, inner.bytes)
    }
}
