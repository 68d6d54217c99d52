import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// FORMAT.md's list of findings and the verifier's are one list (issue 32): every code `verify`
/// can report is in §8's **Findings** paragraph, in the right half (errors or warnings), and the
/// paragraph names no code the verifier lacks (the watcher's own, marked "(watch)", aside).
@Suite struct FindingCodeTests {
    @Test func formatMdListsEveryFindingWithItsSeverity() throws {
        let text = String(decoding: try FileIO.readAll(path: TestSupport.packageRoot + "/docs/FORMAT.md"), as: UTF8.self)
        let start = try #require(text.range(of: "**Findings.**"))
        let paragraph = String(text[start.upperBound...].prefix { $0 != "#" }).components(separatedBy: "\n\n")[0]
        let split = try #require(paragraph.range(of: "Warnings (exit"))
        func codes(_ s: Substring) throws -> [String] {
            let regex = try NSRegularExpression(pattern: "`([a-z]+(?:-[a-z]+)+)`( \\(watch\\))?")
            let text = String(s)
            return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m in
                m.range(at: 2).location != NSNotFound ? nil : String(text[Range(m.range(at: 1), in: text)!])
            }
        }
        let errors = Set(try codes(paragraph[..<split.lowerBound]))
        let warningsAndAfter = try codes(paragraph[split.lowerBound...])
        let cases = Finding.Code.allCases
        let expectedWarnings = Set(cases.filter { $0.defaultSeverity == .warning }.map(\.rawValue))
        let expectedErrors = Set(cases.filter { $0.defaultSeverity == .error }.map(\.rawValue))
        // "A directory with nothing in it is `empty-store`, also an error" comes after the warnings.
        let warnings = Set(warningsAndAfter.filter { $0 != "empty-store" })
        #expect(warnings == expectedWarnings, "warnings: FORMAT.md \(warnings.sorted()), code \(expectedWarnings.sorted())")
        #expect(errors.union(warningsAndAfter.contains("empty-store") ? ["empty-store"] : []) == expectedErrors,
                "only in FORMAT.md: \(errors.subtracting(expectedErrors).sorted()); only in code: \(expectedErrors.subtracting(errors).subtracting(["empty-store"]).sorted())")
    }
}
