import AuditSealTestSupport
import Foundation
import Testing

/// Rules of the house that the compiler does not check, read off Sources/.
@Suite struct SourceRulesTests {
    static func sources() throws -> [(path: String, text: String)] {
        let root = TestSupport.packageRoot + "/Sources"
        return try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }.sorted().map {
            ($0, try String(contentsOfFile: root + "/" + $0, encoding: .utf8))
        }
    }

    /// The full Foundation links ICU's 34 MB data table and CoreFoundation into the binary: every
    /// module builds against FoundationEssentials (docs/OPERATIONS.md, the image's size).
    @Test func noModuleImportsTheFullFoundation() throws {
        let offenders = try Self.sources().filter { file in
            file.text.split(separator: "\n").contains { line in
                let words = line.split(separator: " ")
                guard let i = words.firstIndex(of: "import"), i + 1 < words.count else { return false }
                return ["Foundation", "FoundationInternationalization", "FoundationNetworking", "FoundationXML"].contains(words[i + 1])
            }
        }.map(\.path)
        #expect(offenders.isEmpty, "import the full Foundation: \(offenders)")
    }

    /// The receiver depends on an append protocol, never on the bucket.
    @Test func noServerFileImportsShipping() throws {
        let offenders = try Self.sources().filter { $0.path.hasPrefix("AuditSealServer/") && $0.text.contains("import AuditSealShipping") }.map(\.path)
        #expect(offenders.isEmpty, "\(offenders)")
    }

    /// At most 8 `@unchecked Sendable`, each with its reason on the same line.
    @Test func uncheckedSendableIsRareAndExplained() throws {
        let lines = try Self.sources().flatMap { file in
            file.text.split(separator: "\n").filter { $0.contains("@unchecked Sendable") && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
                .map { (file.path, String($0)) }
        }
        #expect(lines.count <= 8, "\(lines.count): \(lines.map(\.0))")
        for (path, line) in lines { #expect(line.contains("//"), "\(path): no reason given: \(line)") }
    }
}
