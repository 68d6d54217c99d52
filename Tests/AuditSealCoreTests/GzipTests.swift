import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The inflater (ISA-L) against zlib's output and gzip(1)'s: any chunking of the input, several
/// members, and every kind of damage refused or reported as truncated.
@Suite struct GzipTests {
    static func inflate(_ gz: [UInt8], chunk: Int) throws -> (out: [UInt8], complete: Bool) {
        let d = try GzipDecompressor()
        var out = [UInt8]()
        var i = 0
        while i < gz.count {
            let end = min(gz.count, i + chunk)
            try gz[i..<end].withUnsafeBytes { try d.decompress($0) { out.append(contentsOf: $0) } }
            i = end
        }
        return (out, d.isComplete)
    }

    static let text: [UInt8] = {
        var s = ""
        for i in 0..<20_000 { s += TestSupport.syntheticItem(auditID: "gz-\(i)-\(i * 7919 % 104_729)") + "\n" }
        return Array(s.utf8)
    }()

    @Test func decodesZlibOutputInAnyChunkingAndAcrossMembers() throws {
        let one = try GzipCompressor.gzip(Self.text, level: 1)
        for chunk in [1, 7, 4096, 65_536, one.count] where chunk != 1 || one.count < 2_000_000 {
            let (out, complete) = try Self.inflate(one, chunk: chunk)
            #expect(out == Self.text && complete, "chunk \(chunk)")
        }
        // Two members, as `cat a.gz b.gz` makes: one stream.
        let two = try GzipCompressor.gzip(Array(Self.text.prefix(1000)), level: 6) + (try GzipCompressor.gzip(Array(Self.text.dropFirst(1000)), level: 9))
        let (out, complete) = try Self.inflate(two, chunk: 100_000)
        #expect(out == Self.text && complete)
    }

    @Test func everyLevelWritesStandardGzip() throws {
        let dir = TestSupport.temporaryDirectory("gzip-levels")
        for level in [0, 1, 2, 3, 6, 9] {
            // Fed line by line, as the sealer does.
            let c = try GzipCompressor(level: level)
            var gz = [UInt8]()
            var start = 0
            for (i, b) in Self.text.enumerated() where b == 0x0a {
                try Self.text[start...i].withUnsafeBytes { try c.compress($0) { gz.append(contentsOf: $0) } }
                start = i + 1
            }
            try c.finish { gz.append(contentsOf: $0) }
            let (out, complete) = try Self.inflate(gz, chunk: 1 << 20)
            #expect(out == Self.text && complete, "level \(level)")
            // gzip(1) reads it too.
            try FileIO.writeAtomically(path: dir + "/l\(level).gz", bytes: gz)
            let r = try TestSupport.run("/bin/sh", ["-c", "gzip -dc \(dir)/l\(level).gz | cmp - \(dir)/plain || echo DIFFERENT"])
            if level == 0 { try FileIO.writeAtomically(path: dir + "/plain", bytes: Self.text) }
            if level != 0 { #expect(r.status == 0 && !r.stdout.contains("DIFFERENT"), "level \(level): \(r.stdout)\(r.stderr)") }
            if level == 1 { #expect(gz.count < Self.text.count / 5) }
        }
    }

    @Test func decodesGzipOneOutput() throws {
        let dir = TestSupport.temporaryDirectory("gzip1")
        try FileIO.writeAtomically(path: dir + "/t", bytes: Self.text)
        let r = try TestSupport.run("/bin/gzip", ["-9", "-k", dir + "/t"])
        #expect(r.status == 0)
        let (out, complete) = try Self.inflate(try FileIO.readAll(path: dir + "/t.gz"), chunk: 50_000)
        #expect(out == Self.text && complete)
    }

    @Test func damageIsRefusedOrReportedTruncated() throws {
        let gz = try GzipCompressor.gzip(Self.text, level: 6)
        // A changed CRC-32 in the trailer.
        var crc = gz
        crc[crc.count - 6] ^= 0x40
        #expect(throws: AuditSealError.self) { _ = try Self.inflate(crc, chunk: 65_536) }
        // A changed ISIZE.
        var size = gz
        size[size.count - 2] ^= 0x01
        #expect(throws: AuditSealError.self) { _ = try Self.inflate(size, chunk: 65_536) }
        // A flipped bit in the compressed data.
        var body = gz
        body[body.count / 2] ^= 0x10
        #expect(throws: AuditSealError.self) { _ = try Self.inflate(body, chunk: 65_536) }
        // Cut short: no error, but not complete (the verifier reports it as truncated).
        let (_, complete) = try Self.inflate(Array(gz.prefix(gz.count - 100)), chunk: 65_536)
        #expect(!complete)
        // Garbage after a complete member: refused, or (shorter than a gzip header) not complete.
        #expect(throws: AuditSealError.self) { _ = try Self.inflate(gz + Array("not a gzip member".utf8), chunk: 65_536) }
        let (_, shortTail) = try Self.inflate(gz + Array("not gz".utf8), chunk: 65_536)
        #expect(!shortTail)
        #expect(throws: AuditSealError.self) { _ = try Self.inflate(Array("not gzip at all, not even close".utf8), chunk: 65_536) }
    }
}
