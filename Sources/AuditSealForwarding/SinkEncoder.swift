import AuditSealCore
import FoundationEssentials

/// Where an event sits in the sealed record: enough for `auditseal prove --index` and
/// `verify-proof` to prove a hit in the SIEM.
public struct SealCoordinates: Sendable, Equatable {
    public let node: String
    public let chainID: String
    public var index: UInt64
    /// The node and chain ID as JSON strings, quoted once per sink (copies share them).
    let quotedNode: [UInt8]
    let quotedChainID: [UInt8]

    public init(node: String, chainID: String, index: UInt64) {
        self.node = node
        self.chainID = chainID
        self.index = index
        quotedNode = Array(JSONString.quoted(node).utf8)
        quotedChainID = Array(JSONString.quoted(chainID).utf8)
    }
}

/// One event as a sink sends it: the stored line with `drop`'s members removed (still one JSON
/// object, bytes otherwise as stored), its coordinates and the few members the protocols read.
struct OutgoingEvent: Sendable {
    var index: UInt64
    var line: [UInt8]
    var coordinates: SealCoordinates
    var stageTimestamp: String?
    /// `stageTimestamp` in nanoseconds since 1970.
    var stageNanos: Int64?
    var auditID: String?
    /// Members a size limit removed (annotated `auditseal.io/trimmed` on the webhook).
    var trimmed: [String] = []
    /// For OTLP's attributes, read in the same pass: (attribute, value) of the namespace, verb,
    /// resource and user of the stored event.
    var summary: [(key: String, value: String)] = []

    /// From a stored line; nil when the line is not a JSON object (never the case for a verified store).
    init?(index: UInt64, line: [UInt8], coordinates: SealCoordinates, dropping drop: [String], summarize: Bool = false) {
        self.index = index
        self.coordinates = coordinates
        guard let projected = try? Self.project(line, dropping: drop, summarize: summarize) else { return nil }
        self.line = projected.line
        stageTimestamp = projected.stageTimestamp
        stageNanos = stageTimestamp.flatMap { t in var t = t; return t.withUTF8 { Timestamp.unixNanoseconds(UnsafeRawBufferPointer($0)) } }
        auditID = projected.auditID
        summary = projected.summary
    }

    /// The line without the named members (one parse of the line, which also reads the members
    /// the protocols need).
    static func project(_ line: [UInt8], dropping drop: [String], summarize: Bool = false) throws
        -> (line: [UInt8], stageTimestamp: String?, auditID: String?, summary: [(key: String, value: String)]) {
        try line.withUnsafeBytes { raw in
            let members = try JSONMembers(raw)
            let stage = members.plainString("stageTimestamp", in: raw)
            let auditID = members.plainString("auditID", in: raw)
            var summary = [(key: String, value: String)]()
            if summarize {
                func object(_ name: StaticString) throws -> (JSONMembers, UnsafeRawBufferPointer)? {
                    guard let m = members.member(name, in: raw), !m.valueIsString else { return nil }
                    let inner = UnsafeRawBufferPointer(rebasing: raw[m.value])
                    guard inner.first == 0x7b else { return nil }
                    return (try JSONMembers(inner), inner)
                }
                let objectRef = try object("objectRef")
                let user = try object("user")
                for (key, value) in [("k8s.namespace.name", objectRef.flatMap { $0.plainString("namespace", in: $1) }),
                                     ("k8s.audit.verb", members.plainString("verb", in: raw)),
                                     ("k8s.audit.resource", objectRef.flatMap { $0.plainString("resource", in: $1) }), ("k8s.audit.audit_id", auditID),
                                     ("user.name", user.flatMap { $0.plainString("username", in: $1) })] {
                    if let value { summary.append((key, value)) }
                }
            }
            guard !drop.isEmpty else { return (line, stage, auditID, summary) }
            let dropped = Set(drop.map { Array($0.utf8) })
            var out: [UInt8] = [0x7b]
            for m in members.members where !dropped.contains(Array(raw[m.key])) {
                if out.count > 1 { out.append(0x2c) }
                out += raw[m.member]
            }
            out.append(0x7d)
            return (out, stage, auditID, summary)
        }
    }

    /// Drops more members (a size limit's request and response objects).
    mutating func trim(_ names: [String]) throws {
        line = try Self.project(line, dropping: names).line
        trimmed += names
    }
}

/// The request bodies of each protocol (docs/OPERATIONS.md "Forwarding"), spliced from the stored
/// bytes: members are added inside the event's object, nothing is parsed into values and written
/// again (a JSONSerialization round trip cost several times more than the sending).
enum SinkEncoder {
    static func quoted(_ s: String) -> [UInt8] { Array(JSONString.quoted(s).utf8) }

    /// `"auditseal":{"chainID":…,"index":…,"node":…}`
    static func coordinatesMember(_ c: SealCoordinates) -> [UInt8] {
        Array(#""auditseal":{"chainID":"#.utf8) + c.quotedChainID + Array(#","index":\#(c.index),"node":"#.utf8) + c.quotedNode + [0x7d]
    }

    /// An event with members added at the end of its object, as the pieces to copy: what precedes
    /// its closing brace, the added members (comma-led where needed), the rest.
    struct Spliced {
        var head: ArraySlice<UInt8>
        var added: [UInt8]
        var tail: ArraySlice<UInt8>
        var count: Int { head.count + added.count + tail.count }
        func write(to out: inout [UInt8]) {
            out += head
            out += added
            out += tail
        }
    }

    /// The event with members added at the end of its object (`extra` are whole members). A stored
    /// line is one JSON object (the scanner checked it): its last non-blank byte closes it.
    static func splice(_ line: [UInt8], _ extra: [[UInt8]]) throws -> Spliced {
        func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 }
        guard let close = line.lastIndex(where: { !blank($0) }), line[close] == 0x7d,
              let open = line.firstIndex(where: { !blank($0) }), line[open] == 0x7b, open < close else {
            throw AuditSealError(.malformedInput, "a stored line is not a JSON object")
        }
        let empty = line[(open + 1)..<close].allSatisfy(blank)
        var added = [UInt8]()
        added.reserveCapacity(extra.reduce(0) { $0 + $1.count + 1 })
        for (i, member) in extra.enumerated() {
            if i > 0 || !empty { added.append(0x2c) }
            added += member
        }
        return Spliced(head: line[..<close], added: added, tail: line[close...])
    }

    static func appending(_ line: [UInt8], _ extra: [[UInt8]]) throws -> [UInt8] {
        let spliced = try splice(line, extra)
        var out = [UInt8]()
        out.reserveCapacity(spliced.count)
        spliced.write(to: &out)
        return out
    }

    /// The event with its coordinates as the member `auditseal` (splunk-hec, elasticsearch, otlp bodies).
    static func withCoordinates(_ e: OutgoingEvent, also extra: [[UInt8]] = []) throws -> [UInt8] {
        try appending(e.line, [coordinatesMember(e.coordinates)] + extra)
    }

    static func splicedWithCoordinates(_ e: OutgoingEvent) throws -> Spliced {
        try splice(e.line, [coordinatesMember(e.coordinates)])
    }

    /// webhook: an audit.k8s.io/v1 EventList as the API server sends it; the coordinates go in each
    /// event's `annotations` (a map of strings in the Event schema), so every consumer of the
    /// schema (Falco's k8saudit) reads the events unchanged.
    static func webhook(_ events: [OutgoingEvent]) throws -> [UInt8] {
        var out = Array(#"{"apiVersion":"audit.k8s.io/v1","items":["#.utf8)
        for (i, e) in events.enumerated() {
            if i > 0 { out.append(0x2c) }
            var ours = Array(#""auditseal.io/chain-id":"#.utf8) + e.coordinates.quotedChainID
                + Array(#","auditseal.io/index":"\#(e.coordinates.index)","auditseal.io/node":"#.utf8) + e.coordinates.quotedNode
            if !e.trimmed.isEmpty { ours += Array(#","auditseal.io/trimmed":"#.utf8) + quoted(e.trimmed.joined(separator: ",")) }
            let spliced: [UInt8]? = try e.line.withUnsafeBytes { raw in
                let members = try JSONMembers(raw)
                guard let annotations = members.member("annotations", in: raw) else { return nil }
                var inner = annotations.value.lowerBound
                while inner < annotations.value.upperBound && raw[inner] != 0x7b { inner += 1 }
                guard raw[annotations.value.lowerBound] == 0x7b else {
                    // Not an object (never from an API server): replaced by ours, the value kept nowhere else is lost to this consumer only.
                    return Array(raw[..<annotations.value.lowerBound]) + [0x7b] + ours + [0x7d] + Array(raw[annotations.value.upperBound...])
                }
                let body = raw[(inner + 1)..<(annotations.value.upperBound - 1)]
                let empty = body.allSatisfy { $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }
                return Array(raw[...inner]) + ours + (empty ? [] : [0x2c]) + Array(raw[(inner + 1)...])
            }
            out += try spliced ?? appending(e.line, [Array(#""annotations":{"#.utf8) + ours + [0x7d]])
        }
        out += Array(#"],"kind":"EventList","metadata":{}}"#.utf8)
        return out
    }

    /// splunk-hec: one event object after another (the collector's batch form), time in epoch seconds.
    static func splunk(_ events: [OutgoingEvent], sourcetype: String, index: String?) throws -> [UInt8] {
        var out = [UInt8]()
        for e in events {
            out += Array(#"{"event":"#.utf8) + (try withCoordinates(e))
            out += Array(#","fields":{"auditseal_chain_id":"#.utf8) + e.coordinates.quotedChainID
                + Array(#","auditseal_index":"\#(e.coordinates.index)","auditseal_node":"#.utf8) + e.coordinates.quotedNode + [0x7d]
            out += Array(#","host":"#.utf8) + e.coordinates.quotedNode
            if let index { out += Array(#","index":"#.utf8) + quoted(index) }
            out += Array(#","source":"auditseal","sourcetype":"#.utf8) + quoted(sourcetype)
            if let t = e.stageNanos, t >= 0 {
                let micros = String(t / 1000 % 1_000_000)
                out += Array(",\"time\":\(t / 1_000_000_000).\(String(repeating: "0", count: 6 - micros.count))\(micros)".utf8)
            }
            out += [0x7d, 0x0a]
        }
        return out
    }

    /// elasticsearch: bulk `create` actions with `_id` = chain ID and index, so that a batch sent
    /// again makes no duplicate (the second create answers 409, counted as delivered); one index a
    /// day by the event's stageTimestamp.
    static func elasticsearch(_ events: [OutgoingEvent], prefix: String) throws -> [UInt8] {
        var out = [UInt8]()
        for e in events {
            let day = e.stageTimestamp.map { String($0.prefix(10)).replacing("-", with: ".") } ?? "unknown"
            out += Array(#"{"create":{"_id":"#.utf8) + quoted(documentID(e.coordinates)) + Array(#","_index":"#.utf8) + quoted("\(prefix)-\(day)")
            out += [0x7d, 0x7d, 0x0a]
            out += try withCoordinates(e, also: e.stageTimestamp.map { [Array(#""@timestamp":"#.utf8) + quoted($0)] } ?? [])
            out.append(0x0a)
        }
        return out
    }

    static func documentID(_ c: SealCoordinates) -> String { "\(c.chainID)-\(c.index)" }

    /// An OTLP attribute's value (AnyValue: a string or a 64-bit integer).
    enum AttributeValue { case string(String), int(Int64) }
    typealias Attribute = (key: String, value: AttributeValue)

    /// One OTLP log record's attributes: the seal coordinates and the Kubernetes semantic-convention
    /// attributes read from the event (its body is the event with its coordinates).
    static func attributes(_ e: OutgoingEvent) -> [Attribute] {
        var attributes: [Attribute] = [
            ("auditseal.node", .string(e.coordinates.node)), ("auditseal.chain_id", .string(e.coordinates.chainID)),
            ("auditseal.index", .int(Int64(e.coordinates.index))),
        ]
        attributes.reserveCapacity(3 + e.summary.count)
        for (key, value) in e.summary { attributes.append((key, .string(value))) }
        return attributes
    }

    /// The event's time for OTLP (0 when it has none).
    static func timeUnixNano(_ e: OutgoingEvent) -> UInt64 { e.stageNanos.map { UInt64(max(0, $0)) } ?? 0 }

    /// A batch's events grouped by node (one OTLP resource each), in chain order: their positions.
    static func byNode(_ events: [OutgoingEvent]) -> [(node: String, positions: [Int])] {
        var groups = [(node: String, positions: [Int])]()
        for (i, e) in events.enumerated() {
            // A sink follows one store: one node, unless events of several are ever mixed.
            if let g = groups.indices.last(where: { groups[$0].node == e.coordinates.node }) { groups[g].positions.append(i) } else { groups.append((e.coordinates.node, [i])) }
        }
        return groups
    }

    static func resourceAttributes(_ node: String) -> [Attribute] {
        [("service.name", .string("kube-apiserver-audit")), ("k8s.node.name", .string(node))]
    }

    /// otlp, `encoding: json`: OTLP/HTTP logs in the JSON encoding (64-bit integers as strings).
    static func otlpJSON(_ events: [OutgoingEvent]) throws -> [UInt8] {
        func attribute(_ a: Attribute) -> JSONValue {
            switch a.value {
            case .string(let s): return ["key": .string(a.key), "value": ["stringValue": .string(s)]]
            case .int(let i): return ["key": .string(a.key), "value": ["intValue": .string(String(i))]]
            }
        }
        let resourceLogs: [JSONValue] = try byNode(events).map { node, positions in
            ["resource": ["attributes": .array(resourceAttributes(node).map(attribute))],
             "scopeLogs": [["scope": ["name": "auditseal"], "logRecords": .array(try positions.map { i -> JSONValue in
                 let e = events[i]
                 let time = String(timeUnixNano(e))
                 return ["timeUnixNano": .string(time), "observedTimeUnixNano": .string(time), "severityNumber": 9,
                         "severityText": "INFO", "body": ["stringValue": .string(String(decoding: try withCoordinates(e), as: UTF8.self))],
                         "attributes": .array(attributes(e).map(attribute))]
             })]]]
        }
        return try JSONValue.object(["resourceLogs": .array(resourceLogs)]).bytes()
    }

    /// otlp, `encoding: protobuf` (the default): an ExportLogsServiceRequest in the Protocol
    /// Buffers wire format (opentelemetry-proto logs/v1, common/v1, resource/v1; field numbers in
    /// the comments). A log record's size is counted before it is written (a length precedes each
    /// message), so each event's bytes are copied once, straight into the request.
    static func otlpProtobuf(_ events: [OutgoingEvent]) throws -> [UInt8] {
        typealias W = ProtobufWriter
        /// AnyValue's size: string_value (1) or int_value (3).
        func valueSize(_ v: AttributeValue) -> Int {
            switch v {
            case .string(let s): return W.fieldSize(s.utf8.count)
            case .int(let i): return 1 + W.varintSize(UInt64(bitPattern: i))
            }
        }
        /// KeyValue's size: key (1), value (2).
        func keyValueSize(_ a: Attribute) -> Int { W.fieldSize(a.key.utf8.count) + W.fieldSize(valueSize(a.value)) }
        func keyValue(_ w: inout W, _ field: Int, _ a: Attribute) {
            w.header(field, keyValueSize(a))
            w.string(1, a.key)
            w.header(2, valueSize(a.value))
            switch a.value {
            case .string(let s): w.string(1, s)
            case .int(let i): w.uint(3, UInt64(bitPattern: i))
            }
        }
        var request = W()
        for (node, positions) in byNode(events) {
            var resource = W()  // Resource.attributes (1)
            for a in resourceAttributes(node) { keyValue(&resource, 1, a) }
            var scope = W()  // InstrumentationScope.name (1)
            scope.string(1, "auditseal")
            var records = [(time: UInt64, body: Spliced, attributes: [Attribute], size: Int)]()
            records.reserveCapacity(positions.count)
            var scopeLogsSize = W.fieldSize(scope.bytes.count)
            for i in positions {
                let e = events[i]
                let body = try splicedWithCoordinates(e)
                let attributes = attributes(e)
                // time (1) and observed time (11): fixed64; severity_number (2) 9; severity_text (3) "INFO";
                // body (5): AnyValue.string_value (1); attributes (6).
                var size = 9 + 2 + W.fieldSize(4) + W.fieldSize(W.fieldSize(body.count)) + 9
                for a in attributes { size += W.fieldSize(keyValueSize(a)) }
                records.append((timeUnixNano(e), body, attributes, size))
                scopeLogsSize += W.fieldSize(size)
            }
            request.header(1, W.fieldSize(resource.bytes.count) + W.fieldSize(scopeLogsSize))  // ExportLogsServiceRequest.resource_logs
            request.lengthDelimited(1, resource.bytes)  // ResourceLogs.resource
            request.header(2, scopeLogsSize)  // ResourceLogs.scope_logs
            request.lengthDelimited(1, scope.bytes)  // ScopeLogs.scope
            request.bytes.reserveCapacity(request.bytes.count + scopeLogsSize)
            for r in records {
                request.header(2, r.size)  // ScopeLogs.log_records
                request.fixed64(1, r.time)  // time_unix_nano
                request.uint(2, 9)  // severity_number: INFO
                request.string(3, "INFO")  // severity_text
                request.header(5, W.fieldSize(r.body.count))  // body: AnyValue
                request.header(1, r.body.count)  // string_value (UTF-8)
                r.body.write(to: &request.bytes)
                for a in r.attributes { keyValue(&request, 6, a) }  // attributes
                request.fixed64(11, r.time)  // observed_time_unix_nano
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

    static func varintSize(_ value: UInt64) -> Int { value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7 }
    /// A length-delimited field's size with its tag (fields 1...15) and length.
    static func fieldSize(_ payload: Int) -> Int { 1 + varintSize(UInt64(payload)) + payload }

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
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    /// A length-delimited field's tag and length; its payload follows.
    mutating func header(_ field: Int, _ length: Int) {
        tag(field, 2)
        varint(UInt64(length))
    }

    mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        header(field, payload.count)
        bytes += payload
    }

    mutating func string(_ field: Int, _ text: String) {
        header(field, text.utf8.count)
        bytes += text.utf8
    }
}
