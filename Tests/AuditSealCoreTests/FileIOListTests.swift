import Foundation
import Testing
@testable import AuditSealCore

/// `FileIO.list` reads names straight from readdir's variable-length records. AddressSanitizer
/// caught the first version copying a whole 256-byte `d_name` out of a short record at the end of
/// readdir's buffer (reported in WitnessTests under `scripts/sanitize.sh address`). This lists names
/// of every length from 1 to 255 bytes and compares them with Foundation's listing.
@Suite struct FileIOListTests {
    @Test func namesOfEveryLengthListExactlyAsFoundationSeesThem() throws {
        let dir = NSTemporaryDirectory() + "auditseal-list-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var expected: [String] = []
        for length in 1...255 {
            let name = String(repeating: Character(UnicodeScalar(UInt8(97 + length % 26))), count: length)
            #expect(FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([UInt8(length)])))
            expected.append(name)
        }
        let listed = try FileIO.list(dir)
        #expect(listed == expected.sorted())
        #expect(listed == (try FileManager.default.contentsOfDirectory(atPath: dir)).sorted())
        #expect(try FileIO.list(dir + "/absent") == [])
    }
}
