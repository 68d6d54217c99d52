@testable import AuditSealRedaction
import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// The vault: sealed to the auditor keys, opened only by them, each opening proved against the
/// marker's commitment and place; a changed record or marker is refused, a missing one is erased.
@Suite struct VaultTests {
    @Test func revealProvesEachOriginalWithTheAuditorKeyOnly() throws {
        let dir = TestSupport.temporaryDirectory("vault")
        let auditor = AuditorKeys.PrivateKey(), second = AuditorKeys.PrivateKey(), stranger = AuditorKeys.PrivateKey()
        let writer = try VaultWriter(directory: dir, auditorKeys: [auditor.publicKey, second.publicKey])
        let redactor = try Redactor(configuration: RedactionConfiguration())
        var sealed = [[UInt8]]()
        var all = [[RedactedValue]]()
        for line in try LeakCorpus.lines().dropLast() {
            let (out, values) = try #require(try RedactorTests.redact(line, redactor))
            sealed.append(out)
            all.append(values)
        }
        try writer.write(all)
        let vaultBytes = try FileIO.list(dir).flatMap { try FileIO.readAll(path: dir + "/" + $0) }
        #expect(try LeakCorpus.leaks(in: vaultBytes).isEmpty, "the vault holds a secret in the clear")
        let records = VaultFiles.records(in: dir).map(\.record)
        #expect(records.count == 1 && records[0].commitments.count == all.joined().count)  // one record per batch
        for (i, line) in sealed.enumerated() {
            for key in [auditor, second] {
                let opened = Reveal.open(line: line, index: UInt64(i), records: records, key: key)
                #expect(opened.count == all[i].count && opened.allSatisfy { $0.status == "proved" }, "\(opened)")
                #expect(opened.map { $0.value.map { Array($0.utf8) } } == all[i].map(\.raw))
            }
            #expect(Reveal.open(line: line, index: UInt64(i), records: records, key: stranger).allSatisfy { $0.status == "not-for-this-key" && $0.value == nil })
        }
        // A marker moved to another place, or a changed commitment, does not open.
        let line = sealed[0]
        let marker = try #require(RedactionMarker.find(in: line).first)
        var moved = line
        moved.replaceSubrange(marker.range, with: Array("x".utf8))
        let text = String(decoding: moved, as: UTF8.self).replacingOccurrences(of: #""verb":"create""#, with: #""verb":"\#(String(decoding: line[marker.range], as: UTF8.self))""#)
        let misplaced = Reveal.open(line: Array(text.utf8), index: 0, records: records, key: auditor)
        #expect(misplaced.count == 1 && misplaced[0].status.hasPrefix("invalid: the opening is for"), "\(misplaced)")
        var changed = line
        changed[marker.range.upperBound - 1] = changed[marker.range.upperBound - 1] == 0x30 ? 0x31 : 0x30
        #expect(Reveal.open(line: changed, index: 0, records: records, key: auditor).allSatisfy { $0.status == "erased" })
        // A record whose ciphertext was changed does not decrypt.
        var forged = records[0]
        forged.recipients[0].ciphertext = Data(repeating: 7, count: 64).base64EncodedString()
        #expect(Reveal.open(line: line, index: 0, records: [forged], key: auditor).allSatisfy { $0.status.hasPrefix("invalid") })
        // The vault deleted: every value is erased, nothing else changes.
        #expect(Reveal.open(line: line, index: 0, records: [], key: auditor).allSatisfy { $0.status == "erased" })
    }

    @Test func auditorKeysRoundTripThroughPEM() throws {
        let dir = TestSupport.temporaryDirectory("auditor-key")
        let id = try AuditorKeys.generate(at: dir + "/a")
        let pub = try AuditorKeys.loadPublic(path: dir + "/a.pub"), priv = try AuditorKeys.loadPrivate(path: dir + "/a")
        #expect(AuditorKeys.keyID(pub) == id && priv.publicKey.rawRepresentation == pub.rawRepresentation)
        #expect(throws: AuditSealError.self) { try AuditorKeys.generate(at: dir + "/a") }
        #expect(throws: AuditSealError.self) { try AuditorKeys.loadPublic(path: dir + "/a") }
    }
}
