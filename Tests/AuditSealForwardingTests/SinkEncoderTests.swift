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
        w.header(3, 3)
        w.uint(1, 150)
        #expect(w.bytes == [0x1a, 0x03, 0x08, 0x96, 0x01])
    }

    /// A message's fields as the wire format has them (a decoder written for the test, from the
    /// encoding guide, independent of the writer): varints, fixed64s and length-delimited bytes.
    enum Field: Equatable { case varint(UInt64), fixed64(UInt64), bytes([UInt8]) }

    static func fields(_ b: [UInt8]) throws -> [(number: Int, value: Field)] {
        var out = [(number: Int, value: Field)]()
        var i = 0
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = try #require(i < b.count ? b[i] : nil)
                i += 1
                v |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        while i < b.count {
            let key = try varint()
            switch key & 7 {
            case 0: out.append((Int(key >> 3), .varint(try varint())))
            case 1:
                try #require(i + 8 <= b.count)
                out.append((Int(key >> 3), .fixed64(b[i..<(i + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) })))
                i += 8
            case 2:
                let n = Int(try varint())
                try #require(i + n <= b.count)
                out.append((Int(key >> 3), .bytes(Array(b[i..<(i + n)]))))
                i += n
            default: Issue.record("wire type \(key & 7)"); return out
            }
        }
        return out
    }

    static func message(_ f: Field?) throws -> [(number: Int, value: Field)] {
        guard case .bytes(let b) = try #require(f) else { Issue.record("not a message"); return [] }
        return try fields(b)
    }

    static func text(_ f: Field?) throws -> String {
        guard case .bytes(let b) = try #require(f) else { Issue.record("not bytes"); return "" }
        return String(decoding: b, as: UTF8.self)
    }

    /// KeyValue (key 1, value 2: AnyValue string 1 / int 3) as text.
    static func attribute(_ f: Field) throws -> (String, String) {
        let kv = try message(f)
        let value = try message(kv.first { $0.number == 2 }?.value)
        let text: String
        switch try #require(value.first) {
        case (1, let v): text = try Self.text(v)
        case (3, .varint(let n)): text = "int:\(Int64(bitPattern: n))"
        default: text = "?"
        }
        return (try Self.text(kv.first { $0.number == 1 }?.value), text)
    }

    @Test func otlpProtobufDecodesToEveryEventWithItsAttributes() throws {
        let lines = [#"{"auditID":"x","verb":"delete","user":{"username":"alice"},"objectRef":{"resource":"deployments","namespace":"prod"},"stageTimestamp":"2026-12-05T10:00:00.500000Z"}"#,
                     #"{"auditID":"y","verb":"get","stageTimestamp":"2026-12-05T10:00:01.000001Z","requestObject":{"big":"\#(String(repeating: "z", count: 300))"}}"#,
                     #"{"auditID":"z"}"#]
        var events = try lines.map { try Self.event($0) }
        for i in events.indices { events[i].coordinates.index = 40 + UInt64(i) }
        let request = try Self.fields(try SinkEncoder.otlpProtobuf(events))
        #expect(request.count == 1 && request[0].number == 1)
        let resourceLogs = try Self.message(request.first?.value)
        let resource = try Self.message(resourceLogs.first { $0.number == 1 }?.value)
        #expect(try resource.map { try Self.attribute($0.value) }.map { "\($0)=\($1)" } == ["service.name=kube-apiserver-audit", "k8s.node.name=cp-1"])
        let scopeLogs = try Self.message(resourceLogs.first { $0.number == 2 }?.value)
        #expect(try Self.text(try Self.message(scopeLogs.first?.value).first?.value) == "auditseal")
        let records = scopeLogs.filter { $0.number == 2 }
        #expect(records.count == 3)
        for (record, e) in zip(records, events) {
            let f = try Self.message(record.value)
            #expect(f.map(\.number) == [1, 2, 3, 5] + Array(repeating: 6, count: 3 + e.summary.count) + [11])
            let nanos = UInt64(try #require(e.stageNanos ?? 0))
            #expect(f.first { $0.number == 1 }?.value == .fixed64(nanos) && f.last?.value == .fixed64(nanos))
            let severityText = try Self.text(f.first { $0.number == 3 }?.value)
            #expect(f.first { $0.number == 2 }?.value == .varint(9) && severityText == "INFO")
            let body = try Self.message(f.first { $0.number == 5 }?.value)
            let spliced = try SinkEncoder.withCoordinates(e)
            #expect(body.first?.value == .bytes(spliced))
            let attributes = try f.filter { $0.number == 6 }.map { try Self.attribute($0.value) }
            let expected = SinkEncoder.attributes(e).map { a -> (String, String) in
                switch a.value { case .string(let s): (a.key, s); case .int(let i): (a.key, "int:\(i)") }
            }
            #expect(attributes.map { "\($0)=\($1)" } == expected.map { "\($0)=\($1)" })
        }
        let first = try records.first.map { try Self.message($0.value).filter { $0.number == 6 }.map { try Self.attribute($0.value) }.map { "\($0)=\($1)" } }
        #expect(first == ["auditseal.node=cp-1", "auditseal.chain_id=c0ffee", "auditseal.index=int:40", "k8s.namespace.name=prod", "k8s.audit.verb=delete",
                    "k8s.audit.resource=deployments", "k8s.audit.audit_id=x", "user.name=alice"])
    }
}
