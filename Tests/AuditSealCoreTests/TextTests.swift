import AuditSealCore
import FoundationEssentials
import Testing

/// The text and JSON helpers that stand in for the full Foundation's (which the binary no longer links).
@Suite struct TextTests {
    @Test(arguments: [
        ("a/b.gz", "b.gz", "a", "gz", "a/b"), ("/a/b/", "b", "/a", "", "/a/b/"), ("/", "/", "/", "", "/"),
        ("name", "name", "", "", "name"), ("/a", "a", "/", "", "/a"), ("x/.hidden", ".hidden", "x", "", "x/.hidden"),
        ("dir/audit.log.1.gz", "audit.log.1.gz", "dir", "gz", "dir/audit.log.1"),
    ])
    func pathNames(_ path: String, _ last: String, _ parent: String, _ ext: String, _ withoutExtension: String) {
        #expect(PathName.last(path) == last)
        #expect(PathName.parent(path) == parent)
        #expect(PathName.extension(path) == ext)
        #expect(PathName.deletingExtension(path) == withoutExtension)
    }

    @Test func trimming() {
        #expect(" \t a b \n\r".trimmed == "a b")
        #expect("   ".trimmed == "")
        #expect("//p/q//".trimmed(where: { $0 == "/" }) == "p/q")
    }

    @Test func percentDecoding() {
        #expect(PercentEncoding.decode("a%20b%2Fc") == "a b/c")
        #expect(PercentEncoding.decode("%E2%9C%93") == "✓")
        #expect(PercentEncoding.decode("bad%2") == nil)
        #expect(PercentEncoding.decode("bad%zz") == nil)
        #expect(PercentEncoding.decode("%FF") == nil)
    }

    @Test(arguments: [(0.0, "0.000"), (1.0005, "1.001"), (-2.5, "-2.500"), (12.3456, "12.346"), (-0.0001, "0.000")])
    func fixedDecimals(_ value: Double, _ text: String) {
        #expect(value.fixed(3) == text)
    }

    @Test func jsonValuesRoundTripWithSortedKeysAndExactIntegers() throws {
        let text = #"{"b":[1,2.5,true,null,"x/y"],"a":{"big":9007199254740993}}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["a"]?["big"] == .int(9_007_199_254_740_993))
        #expect(value["b"]?.array?.count == 5)
        #expect(String(decoding: try value.bytes(), as: UTF8.self) == #"{"a":{"big":9007199254740993},"b":[1,2.5,true,null,"x/y"]}"#)
        #expect(throws: (any Error).self) { try JSONValue.parse(Array("{".utf8)) }
    }

    @Test func wholeSecondTimestamps() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.75)
        #expect(Timestamp.formatWholeSeconds(date) == "2027-01-15T08:00:00Z")
        #expect(Timestamp.parse("2027-01-15T08:00:00.750Z") == date)
    }
}
