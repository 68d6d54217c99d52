import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

@Suite struct EventScannerTests {
    func scan(_ text: String, _ mode: EventScanner.Mode = .eventList) throws -> EventBatch {
        try EventScanner(mode: mode).scan(Array(text.utf8))
    }

    func lines(_ batch: EventBatch) -> [String] {
        (0..<batch.count).map { String(decoding: batch.line($0), as: UTF8.self) }
    }

    @Test func webhookItemsGetKindAndAPIVersionFirstAndKeepEveryOtherByte() throws {
        let batch = try scan(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[{"level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"get","user":{"username":"u\u00e9","groups":["g"]}},{}]}"#.replacingOccurrences(of: ",{}]", with: ",{\"auditID\":\"a2\",\"stage\":\"RequestReceived\"}]"))
        #expect(lines(batch) == [
            #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"get","user":{"username":"u\u00e9","groups":["g"]}}"#,
            #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a2","stage":"RequestReceived"}"#,
        ])
        #expect(batch.fields(0).username == "u\u{e9}")
        #expect(batch.fields(0).verb == "get")
    }

    @Test func itemsAreMinifiedOnlyWhenTheyHoldInsignificantWhitespace() throws {
        let pretty = """
        {"apiVersion": "audit.k8s.io/v1beta1", "items": [
          {"kind": "Event", "apiVersion": "audit.k8s.io/v1beta1", "auditID": "x y", "stage": "ResponseComplete",
           "requestURI": "/api?a= b", "responseStatus": {"code": 403}}
        ], "kind": "EventList"}
        """
        let batch = try scan(pretty)
        #expect(lines(batch) == [#"{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","auditID":"x y","stage":"ResponseComplete","requestURI":"/api?a= b","responseStatus":{"code":403}}"#])
        #expect(batch.fields(0).responseCode == 403)
        // An item present as-is with kind and apiVersion is kept byte for byte, whatever its key order.
        let kept = #"{"auditID":"k","apiVersion":"audit.k8s.io/v1","stage":"Panic","kind":"Event"}"#
        #expect(lines(try scan(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["# + kept + "]}")) == [kept])
    }

    @Test func extractsTheIndexedFieldsOfARealEvent() throws {
        let batch = try EventScanner(mode: .stream).scan(try FileIO.readAll(path: TestSupport.fixtures + "/corpus/falcosecurity-falco/create_secret.json"))
        #expect(batch.count == 1)
        #expect(batch.fields(0) == EventFields(
            auditID: "55a81824-ab56-46c5-8b02-96336f5e78d7", stage: "ResponseComplete",
            stageTimestamp: "2020-04-21T17:57:05.548299Z", verb: "create", username: "minikube-user",
            userAgent: "kubectl/v1.17.3 (darwin/amd64) kubernetes/06ad960", resource: "secrets", namespace: "default",
            name: "example-secret", subresource: nil, apiGroup: nil, responseCode: 201))
    }

    @Test func everyRealCorpusEventScansAndItsStoredLineIsValidJSON() throws {
        var total = 0
        for path in TestSupport.corpusFiles() where !path.hasSuffix("fal_01_003.json") {
            let batch = try EventScanner(mode: .stream).scan(try FileIO.readAll(path: path))
            for i in 0..<batch.count {
                let line = Array(batch.line(i))
                #expect(!line.contains(0x0a))
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                #expect(object?["auditID"] as? String == batch.auditID(i))
            }
            total += batch.count
        }
        #expect(total == 51 + 37)  // PROVENANCE.md: 51 falco events (fal_01_003.json is not one) + 37 audit2rbac
    }

    @Test func corpusBadInputIsRejectedWithItsOffset() throws {
        let bad = try FileIO.readAll(path: TestSupport.fixtures + "/corpus/falcosecurity-falco/fal_01_003.json")
        #expect(throws: AuditSealError.self) { _ = try EventScanner(mode: .stream).scan(bad) }
        do { _ = try EventScanner(mode: .stream).scan(bad) } catch let e as AuditSealError {
            #expect(e.code == .malformedInput)
            #expect(e.reason.hasPrefix("byte 0:"))
        }
    }

    @Test(arguments: [
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a","stage":"x"}"#, "byte 87: unexpected end of input in array"),
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a\q","stage":"x"}]}"#, "byte 74: invalid escape \\'q'"),
        (#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"x"}"#, "byte 0: expected kind \"EventList\", found \"Event\""),
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v2","items":[]}"#, "byte 0: unsupported apiVersion \"audit.k8s.io/v2\" (expected audit.k8s.io/v1 or audit.k8s.io/v1beta1)"),
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"stage":"x"}]}"#, "byte 60: item 0 has no auditID string"),
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]} x"#, "byte 63: unexpected data after the EventList"),
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[1]}"#, "byte 60: item 0 is not a JSON object"),
        ("", "byte 0: empty body, expected an EventList"),
        (#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a","stage":"x","n":01}]}"#, "byte 92: expected ',' or '}', found '1'"),
    ])
    func malformedInputGetsAPreciseReason(input: String, reason: String) {
        do {
            _ = try EventScanner(mode: .eventList).scan(Array(input.utf8))
            Issue.record("accepted malformed input")
        } catch let error as AuditSealError {
            #expect(error.code == .malformedInput)
            #expect(error.reason == reason)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a","stage":"x","o":"# + String(repeating: "[", count: 100_000) + "]}]}"
        #expect(throws: AuditSealError.self) { _ = try EventScanner(mode: .eventList).scan(Array(deep.utf8)) }
    }

    @Test func streamModeReadsAuditLogLinesAndEventListsAlike() throws {
        let log = try FileIO.readAll(path: TestSupport.fixtures + "/corpus/liggitt-audit2rbac/demo.log")
        let batch = try EventScanner(mode: .stream).scan(log)
        #expect(batch.count == 37)
        // Log lines are stored exactly as the API server wrote them.
        let original = String(decoding: log, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines(batch) == original)
        let mixed = try scan(String(decoding: TestSupport.eventList(count: 3), as: UTF8.self) + "\n" + original[0], .stream)
        #expect(mixed.count == 4)
    }

    @Test func aSpooledInputGivesTheSameLinesAsAnInMemoryOne() throws {
        let dir = TestSupport.temporaryDirectory()
        // Lines with whitespace to remove and members to add, over several 1 MiB flushes of the line spool.
        let items = (0..<3000).map { #"{ "auditID": "s-\#($0)", "stage": "ResponseComplete", "pad": "\#(String(repeating: "x", count: 800))" }"# }
        let input = Array((#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["# + items.joined(separator: ",\n") + "]}").utf8)
        let inMemory = try EventScanner(mode: .eventList).scan(input)

        let inputSpool = try SpoolFile(directory: dir)
        try input.withUnsafeBytes { try inputSpool.append($0) }
        let mapped = try inputSpool.map()
        #expect(mapped.isMapped && mapped.count == input.count)
        let spooled = try EventScanner(mode: .eventList).scan(mapped, lineSpool: try SpoolFile(directory: dir))
        #expect(spooled.lines.isMapped)
        #expect(spooled.count == 3000)
        #expect(lines(spooled) == lines(inMemory))
        #expect(spooled.auditID(2999) == "s-2999")
        // Spool files are unlinked from the start: nothing is left in the directory.
        #expect(try FileIO.list(dir).isEmpty)
    }

    @Test func moreEventsThanTheLimitIsTooLargeNotMalformed() throws {
        let input = TestSupport.eventList(count: 11)
        #expect(try EventScanner(mode: .eventList).scan(EventBytes(input), maxEvents: 11).count == 11)
        do {
            _ = try EventScanner(mode: .eventList).scan(EventBytes(input), maxEvents: 10)
            Issue.record("11 events passed a limit of 10")
        } catch let error as AuditSealError {
            #expect(error.code == .tooLarge)
            #expect(error.reason.contains("more than 10 events"))
        }
    }
}

/// JSON must be UTF-8 (RFC 8259 §8.1), and an event's identity members must be unambiguous:
/// both are refused (400) instead of stored.
@Suite struct ScannerRefusalTests {
    static func list(_ item: [UInt8]) -> [UInt8] {
        Array(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["#.utf8) + item + Array("]}".utf8)
    }
    static func item(user: [UInt8]) -> [UInt8] {
        Array(#"{"auditID":"a","stage":"ResponseComplete","user":{"username":""#.utf8) + user + Array(#""}}"#.utf8)
    }

    @Test func validUTF8IsAcceptedAndStoredAsIs() throws {
        for text in ["é", "日本語", "😀 emoji", "ÿ", "\u{10FFFF}", "mixed ascii then ü then ascii again, long enough for the 8-byte fast path"] {
            let batch = try EventScanner(mode: .eventList).scan(Self.list(Self.item(user: Array(text.utf8))))
            #expect(batch.count == 1)
            #expect(String(decoding: batch.line(0), as: UTF8.self).contains(text))
            // And Foundation agrees it is valid JSON.
            #expect((try? JSONSerialization.jsonObject(with: Data(batch.line(0)))) != nil)
        }
    }

    @Test(arguments: [
        ([0xff], "0xff"), ([0xc0, 0xaf], "overlong"), ([0xe0, 0x80, 0xaf], "overlong 3-byte"), ([0xed, 0xa0, 0x80], "surrogate"),
        ([0xf4, 0x90, 0x80, 0x80], "above U+10FFFF"), ([0xc3], "truncated"), ([0xe6, 0x97], "truncated 3-byte"),
        ([0x80], "lone continuation"), ([0xc3, 0x28], "bad continuation"), ([0xf0, 0x9f, 0x98], "truncated 4-byte"),
    ] as [([UInt8], String)])
    func invalidUTF8IsRefused(bytes: [UInt8], what: String) throws {
        // In the middle of a long ASCII string too, past the 8-byte fast path.
        for prefix in [[UInt8](), Array("0123456789abcdef".utf8)] {
            let body = Self.list(Self.item(user: prefix + bytes + Array("tail".utf8)))
            #expect(throws: AuditSealError.self, "\(what)") { try EventScanner(mode: .eventList).scan(body) }
            do { _ = try EventScanner(mode: .eventList).scan(body) } catch let e as AuditSealError {
                #expect(e.code == .malformedInput && e.reason.contains("UTF-8"), "\(e.reason)")
            }
        }
    }

    /// Surrogate escapes must pair (fuzzing found a lone `\udDaD` that the scanner stored and
    /// Foundation refused): a pair is stored as written, a lone half is refused.
    @Test func surrogateEscapesMustPair() throws {
        for good in [#"\ud83d\ude00"#, #"\uD83D\uDE00 tail"#, #"\u00e9\ud800\udc00"#, #"\uffff\ud7ff\ue000"#] {
            let batch = try EventScanner(mode: .eventList).scan(Self.list(Self.item(user: Array(good.utf8))))
            #expect(String(decoding: batch.line(0), as: UTF8.self).contains(good))
            #expect((try? JSONSerialization.jsonObject(with: Data(batch.line(0)))) != nil, "\(good)")
        }
        for bad in [#"\udDaD"#, #"\ud83d"#, #"\ud83dx"#, #"\ud83d\u0041"#, #"\ud83d\ud83d"#, #"\ude00\ud83d"#, #"\ud83d\n"#, #"\udc00"#] {
            let body = Self.list(Self.item(user: Array(bad.utf8)))
            do {
                _ = try EventScanner(mode: .eventList).scan(body)
                Issue.record("\(bad) was accepted")
            } catch let e as AuditSealError {
                #expect(e.code == .malformedInput && e.reason.contains("surrogate"), "\(bad): \(e.reason)")
            }
            #expect((try? JSONSerialization.jsonObject(with: Data(body))) == nil, "Foundation accepts \(bad)")
        }
    }

    @Test(arguments: [
        (#"{"auditID":"a","stage":"ResponseComplete","auditID":"b"}"#, "auditID"),
        (#"{"auditID":"a","stage":"RequestReceived","stage":"ResponseComplete"}"#, "stage"),
        (#"{"kind":"Event","kind":"Event","auditID":"a","stage":"x"}"#, "kind"),
        (#"{"apiVersion":"audit.k8s.io/v1","auditID":"a","apiVersion":"audit.k8s.io/v1beta1","stage":"x"}"#, "apiVersion"),
        (#"{"auditID":1,"auditID":"a","stage":"x"}"#, "auditID"),
    ])
    func duplicateIdentityMembersAreRefused(item: String, member: String) throws {
        do {
            _ = try EventScanner(mode: .eventList).scan(Self.list(Array(item.utf8)))
            Issue.record("accepted a duplicate \(member)")
        } catch let e as AuditSealError {
            #expect(e.code == .malformedInput && e.reason.contains("duplicate \"\(member)\""), "\(e.reason)")
        }
        // As a JSON-lines stream (import, the log backend's format) too.
        do {
            _ = try EventScanner(mode: .stream).scan(Array(item.utf8))
            Issue.record("stream accepted a duplicate \(member)")
        } catch let e as AuditSealError {
            #expect(e.reason.contains("duplicate"), "\(e.reason)")
        }
        // Nested members of the same name are not identity members: accepted.
        let nested = #"{"auditID":"a","stage":"x","requestObject":{"auditID":"b","stage":"y","kind":"K","apiVersion":"v"}}"#
        #expect(try EventScanner(mode: .eventList).scan(Self.list(Array(nested.utf8))).count == 1)
    }
}
