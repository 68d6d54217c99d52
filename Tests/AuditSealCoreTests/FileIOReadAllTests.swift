import Foundation
import Testing
@testable import AuditSealCore

/// `FileIO.readAll` reads into an array of the file's size plus one byte (to see the end in the
/// same read), and on in larger pieces when the file is longer than fstat said or has no size (as
/// /proc files do). Every length around those edges reads back byte for byte.
@Suite struct FileIOReadAllTests {
    @Test func filesOfEveryEdgeLengthReadBackExactly() throws {
        let dir = NSTemporaryDirectory() + "auditseal-readall-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for length in [0, 1, 2, 4095, 4096, 65_535, 65_536, 65_537, (1 << 20) - 1, 1 << 20, (1 << 20) + 3, 3 << 20] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            let path = dir + "/f\(length)"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            let read = try FileIO.readAll(path: path)
            #expect(read.count == length, "length \(length): read \(read.count)")
            #expect(read == bytes, "length \(length): the bytes differ")
        }
    }

    @Test func aFileWithoutASizeIsReadToItsEnd() throws {
        // /proc files report size 0; their content is longer.
        let read = try FileIO.readAll(path: "/proc/self/status")
        #expect(String(decoding: read, as: UTF8.self).contains("VmRSS:"))
        // Read to its end whatever its length: [vdso] is among the last mappings.
        let maps = String(decoding: try FileIO.readAll(path: "/proc/self/maps"), as: UTF8.self)
        #expect(maps.contains("[vdso]") && maps.hasSuffix("\n"), "\(maps.count) bytes")
    }

    @Test func aMissingFileIsAnErrorNamingIt() {
        #expect { try FileIO.readAll(path: "/nonexistent/auditseal-file") } throws: { "\($0)".contains("/nonexistent/auditseal-file") }
    }
}
