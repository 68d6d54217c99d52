import AuditSealCore
@testable import AuditSealForwarding
import Foundation
import Testing

/// The protocol bodies are spliced from the stored bytes: each must still be the JSON (or
/// protobuf) its receiver parses, hold every stored member unchanged, and carry the coordinates.
struct SinkEncoderTests {
    static let coordinates = SealCoordinates(node: "cp-1", chainID: "c0ffee", index: 42)

    static func event(_ line: String, drop: [String] = []) throws -> OutgoingEvent {
        try #require(OutgoingEvent(index: 42, line: Array(line.utf8), coordinates: coordinates, dropping: drop, summarize: true))
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test(arguments: [
        #"{"auditID":"a","annotations":{"authorization.k8s.io/decision":"allow"},"verb":"get"}"#,
        #"{"auditID":"a","annotations":{ },"verb":"get"}"#,
        #"{"auditID":"a","verb":"get"}"#,
        #"{ "auditID" : "a" , "verb":"get" }"#,
    ])
    func theWebhookEventListCarriesTheCoordinatesInTheAnnotations(line: String) throws {
        let body = try Self.object(SinkEncoder.webhook([try Self.event(line), try Self.event(line)]))
        #expect(body["kind"] as? String == "EventList" && body["apiVersion"] as? String == "audit.k8s.io/v1")
        let items = try #require(body["items"] as? [[String: Any]])
        #expect(items.count == 2)
        let stored = try Self.object(Array(line.utf8))
        for item in items {
            let annotations = try #require(item["annotations"] as? [String: String])
            #expect(annotations["auditseal.io/index"] == "42" && annotations["auditseal.io/node"] == "cp-1" && annotations["auditseal.io/chain-id"] == "c0ffee")
            for (k, v) in stored["annotations"] as? [String: String] ?? [:] { #expect(annotations[k] == v) }
            #expect(item["auditID"] as? String == "a" && item["verb"] as? String == "get")
        }
    }

    @Test func droppedMembersAreGoneAndTheRestKeepTheirBytes() throws {
        let line = #"{"auditID":"a\u00e9","requestObject":{"kind":"Secret","data":{"k":"v"}},"verb":"create","responseObject":[1,2],"stageTimestamp":"2026-12-05T10:00:00.123456Z"}"#
        let e = try Self.event(line, drop: ["requestObject", "responseObject"])
        #expect(String(decoding: e.line, as: UTF8.self) == #"{"auditID":"a\u00e9","verb":"create","stageTimestamp":"2026-12-05T10:00:00.123456Z"}"#)
        #expect(e.stageTimestamp == "2026-12-05T10:00:00.123456Z")
        #expect(e.auditID == nil)  // escaped: not read without decoding (only used in dead-letter lines)
        var trimmed = try Self.event(line)
        try trimmed.trim(["requestObject", "responseObject"])
        #expect(trimmed.line == e.line && trimmed.trimmed == ["requestObject", "responseObject"])
        let annotations = try #require(try Self.object(SinkEncoder.webhook([trimmed]))["items"] as? [[String: Any]]).first?["annotations"] as? [String: String]
        #expect(annotations?["auditseal.io/trimmed"] == "requestObject,responseObject")
    }

    @Test func splunkElasticsearchAndOTLPBodiesParseAndCarryTheCoordinates() throws {
        let e = try Self.event(#"{"auditID":"x","verb":"delete","user":{"username":"alice"},"objectRef":{"resource":"deployments","namespace":"prod"},"stageTimestamp":"2026-12-05T10:00:00.500000Z"}"#)
        let hec = try Self.object(Array(try SinkEncoder.splunk([e], sourcetype: "kube:apiserver:audit", index: "k8s").dropLast()))
        #expect(hec["time"] as? Double == 1_796_464_800.5 && hec["index"] as? String == "k8s" && hec["host"] as? String == "cp-1")
        let event = try #require(hec["event"] as? [String: Any])
        #expect((event["auditseal"] as? [String: Any])?["index"] as? Int == 42 && event["verb"] as? String == "delete")
        #expect((hec["fields"] as? [String: String])?["auditseal_index"] == "42")

        let bulk = String(decoding: try SinkEncoder.elasticsearch([e], prefix: "audit"), as: UTF8.self).split(separator: "\n")
        #expect(bulk.count == 2)
        let action = try #require(try Self.object(Array(bulk[0].utf8))["create"] as? [String: String])
        #expect(action == ["_id": "c0ffee-42", "_index": "audit-2026.12.05"])
        let document = try Self.object(Array(bulk[1].utf8))
        #expect(document["@timestamp"] as? String == "2026-12-05T10:00:00.500000Z" && (document["auditseal"] as? [String: Any])?["node"] as? String == "cp-1")

        let otlp = try Self.object(try SinkEncoder.otlpJSON([e]))
        let record = try #require((((otlp["resourceLogs"] as? [[String: Any]])?.first?["scopeLogs"] as? [[String: Any]])?.first?["logRecords"] as? [[String: Any]])?.first)
        let attributes = Dictionary(uniqueKeysWithValues: (record["attributes"] as? [[String: Any]] ?? []).map {
            ($0["key"] as! String, (($0["value"] as? [String: Any])?["stringValue"] ?? ($0["value"] as? [String: Any])?["intValue"]) as? String ?? "")
        })
        #expect(attributes["k8s.namespace.name"] == "prod" && attributes["user.name"] == "alice" && attributes["auditseal.index"] == "42")
        #expect(record["timeUnixNano"] as? String == "1796464800500000000")
    }

    /// The wire format's basics (protobuf.dev "Encoding": 150 as field 1 is 08 96 01).
    @Test func protobufWireFormat() {
        var w = ProtobufWriter()
        w.uint(1, 150)
        #expect(w.bytes == [0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.string(2, "testing")
        #expect(w.bytes == [0x12, 0x07] + Array("testing".utf8))
        w = ProtobufWriter()
        w.fixed64(1, 1)
        #expect(w.bytes == [0x09, 1, 0, 0, 0, 0, 0, 0, 0])
        w = ProtobufWriter()
        w.message(3) { $0.uint(1, 150) }
        #expect(w.bytes == [0x1a, 0x03, 0x08, 0x96, 0x01])
    }
}
