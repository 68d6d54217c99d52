@testable import AuditSealRedaction
import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// docs/FORMAT.md §12's commitment vector is what the code computes, and a marker is found only in
/// its exact form.
@Suite struct RedactionFormatTests {
    @Test func theDocumentedCommitmentVectorHolds() throws {
        let format = String(decoding: try FileIO.readAll(path: TestSupport.packageRoot + "/docs/FORMAT.md"), as: UTF8.self)
        let salt = Array(1...32).map(UInt8.init)
        let path: [JSONStringValues.Step] = [.key("responseObject"), .key("status"), .key("token")]
        #expect(RedactionMarker.pathText(path) == #"["responseObject","status","token"]"#)
        let digest = RedactionMarker.commitment(salt: salt, path: path, raw: Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".utf8))
        #expect(format.contains("→\n`\(digest.hex)`") || format.contains("→ `\(digest.hex)`"), "\(digest.hex)")
        #expect(format.contains(Hex.encode(salt)))
        #expect(RedactionMarker.pathText([.key("a\"b\\c\u{1}\n"), .index(3)]) == #"["a\"b\\c\u0001\n",3]"#)
    }

    @Test func onlyWellFormedMarkersAreFound() {
        let hex = String(repeating: "ab", count: 32)
        let text = "x auditseal-redacted:jwt:\(hex) auditseal-redacted:Bad:\(hex) auditseal-redacted:jwt:\(hex.prefix(60)) auditseal-redacted:jwt:\(hex.uppercased()) auditseal-redacted:secret-data:\(hex)"
        let found = RedactionMarker.find(in: Array(text.utf8))
        #expect(found.map(\.rule) == ["jwt", "secret-data"])
    }
}
