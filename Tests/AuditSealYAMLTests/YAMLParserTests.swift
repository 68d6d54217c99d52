import AuditSealYAML
import Testing

/// The libyaml composer and the decoder over its nodes (what replaced Yams in the binary).
@Suite struct YAMLParserTests {
    struct Sample: Decodable, Equatable {
        var name: String
        var count: Int
        var ratio: Double
        var enabled: Bool
        var tags: [String]
        var missing: String?
        var nothing: String?
        var nested: Inner
        struct Inner: Decodable, Equatable { var port: UInt16 }
    }

    @Test func decodesScalarsAsTheTypeAsked() throws {
        let root = try #require(try YAMLDocument.compose("""
            name: 2024          # a plain number read as text, as Yams reads it for a String
            count: 0x10
            ratio: 1_000.5
            enabled: yes
            tags: [a, 'b', "c"]
            nothing: ~
            nested: {port: 8443}
            """))
        let sample = try YAMLDecoder().decode(Sample.self, from: root)
        #expect(sample == Sample(name: "2024", count: 16, ratio: 1000.5, enabled: true, tags: ["a", "b", "c"],
                                 missing: nil, nothing: nil, nested: .init(port: 8443)))
    }

    @Test func wrongTypesNameTheField() throws {
        let root = try #require(try YAMLDocument.compose("name: x\ncount: many\nratio: 1\nenabled: true\ntags: []\nnested: {port: 1}\n"))
        #expect {
            try YAMLDecoder().decode(Sample.self, from: root)
        } throws: { error in
            guard case DecodingError.typeMismatch(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["count"] && context.debugDescription.contains("line 2")
        }
        let tooBig = try #require(try YAMLDocument.compose("name: x\ncount: 1\nratio: 1\nenabled: true\ntags: []\nnested: {port: 70000}\n"))
        #expect {
            try YAMLDecoder().decode(Sample.self, from: tooBig)
        } throws: { error in
            guard case DecodingError.typeMismatch(_, let context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["nested", "port"]
        }
    }

    @Test func anyResolvesYAML11Scalars() throws {
        let value = try #require(try YAMLDocument.load("""
            a: 12
            b: -0o17
            c: .inf
            d: "12"
            e: off
            f: null
            g: !!str 7
            h: 1:30
            i: [x, {y: 2.5}]
            """) as? [String: Any])
        #expect(value["a"] as? Int == 12)
        #expect(value["b"] as? Int == -15)
        #expect(value["c"] as? Double == .infinity)
        #expect(value["d"] as? String == "12")
        #expect(value["e"] as? Bool == false)
        #expect(value["f"] is YAMLNull)
        #expect(value["g"] as? String == "7")
        #expect(value["h"] as? Int == 90)
        let list = try #require(value["i"] as? [Any])
        #expect(list.first as? String == "x")
        #expect((list.last as? [String: Any])?["y"] as? Double == 2.5)
    }

    @Test func aliasesAreResolvedAndTheirExpansionIsBounded() throws {
        let value = try #require(try YAMLDocument.load("base: &b {k: v}\ncopy: *b\n") as? [String: [String: String]])
        #expect(value["copy"] == ["k": "v"])
        // Each level doubles the one before: 2^25 nodes once expanded.
        var laughs = "l0: &l0 [x, x]\n"
        for i in 1...24 { laughs += "l\(i): &l\(i) [*l\(i - 1), *l\(i - 1)]\n" }
        #expect(throws: YAMLSyntaxError.self) { try YAMLDocument.compose(laughs) }
    }

    @Test func syntaxErrorsSayWhere() throws {
        #expect {
            try YAMLDocument.compose("a: 1\nb: [unclosed\n")
        } throws: { error in
            (error as? YAMLSyntaxError).map { $0.line >= 2 } ?? false
        }
        #expect(throws: YAMLSyntaxError.self) { try YAMLDocument.compose("a: 1\n---\nb: 2\n") }
        #expect(throws: YAMLSyntaxError.self) { try YAMLDocument.compose("a: *nowhere\n") }
        #expect(try YAMLDocument.compose("") == nil)
        #expect(try YAMLDocument.compose("# only a comment\n") == nil)
    }

    @Test func mappingSubscriptKeepsOrder() throws {
        guard case .mapping(var m) = try #require(try YAMLDocument.compose("z: 1\na: 2\n")) else { Issue.record("not a mapping"); return }
        m["a"] = .scalar(.init("3"))
        m["b"] = .scalar(.init("4"))
        #expect(m.pairs.map { $0.key.string } == ["z", "a", "b"])
        #expect(m["a"]?.string == "3")
    }
}
