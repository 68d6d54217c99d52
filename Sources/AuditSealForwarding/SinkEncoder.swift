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

    /// otlp: OTLP/HTTP logs in the JSON encoding; the event (with its coordinates) is the body,
    /// Kubernetes semantic-convention attributes beside it.
    static func otlp(_ events: [OutgoingEvent]) throws -> [UInt8] {
        func attribute(_ key: String, _ value: String?) -> [String: Any]? {
            value.map { ["key": key, "value": ["stringValue": $0]] }
        }
        var byNode = [String: [[String: Any]]]()
        for e in events {
            let nanos = e.stageTimestamp.flatMap(Timestamp.parse).map { String(UInt64($0.timeIntervalSince1970 * 1_000_000) * 1000) } ?? "0"
            let objectRef = e.object["objectRef"] as? [String: Any]
            let user = e.object["user"] as? [String: Any]
            let attributes = [
                attribute("auditseal.node", e.coordinates.node), attribute("auditseal.chain_id", e.coordinates.chainID),
                ["key": "auditseal.index", "value": ["intValue": String(e.coordinates.index)]],
                attribute("k8s.namespace.name", objectRef?["namespace"] as? String),
                attribute("k8s.audit.verb", e.object["verb"] as? String),
                attribute("k8s.audit.resource", objectRef?["resource"] as? String),
                attribute("k8s.audit.audit_id", e.object["auditID"] as? String),
                attribute("user.name", user?["username"] as? String),
            ].compactMap { $0 }
            let body = String(decoding: try json(withCoordinates(e)), as: UTF8.self)
            byNode[e.coordinates.node, default: []].append([
                "timeUnixNano": nanos, "observedTimeUnixNano": nanos, "severityNumber": 9, "severityText": "INFO",
                "body": ["stringValue": body], "attributes": attributes,
            ])
        }
        let resourceLogs: [[String: Any]] = byNode.keys.sorted().map { node in
            ["resource": ["attributes": [attribute("service.name", "kube-apiserver-audit")!, attribute("k8s.node.name", node)!]],
             "scopeLogs": [["scope": ["name": "auditseal"], "logRecords": byNode[node]!]]]
        }
        return try json(["resourceLogs": resourceLogs])
    }
}
