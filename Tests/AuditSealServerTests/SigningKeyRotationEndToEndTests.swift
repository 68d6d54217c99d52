import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Key rotation with the real binary: a running receiver hands over on SIGHUP when its key file
/// holds a new key; a stopped store hands over with `auditseal rotate-key`; `verify` with only the
/// first public key stays green across both.
@Suite(.serialized, .tier(.process)) struct SigningKeyRotationEndToEndTests {
    static let binary = TestSupport.product("auditseal")

    @Test func receiverOnSIGHUPAndRotateKeyCommandBothHandOver() throws {
        let dir = TestSupport.temporaryDirectory("rotate-e2e")
        for name in ["k1", "k2", "k3"] {
            #expect(try TestSupport.run(Self.binary, ["keygen", "--out", dir + "/" + name + ".key"]).status == 0)
        }
        let keyFile = dir + "/signing.key"
        try FileManager.default.copyItem(atPath: dir + "/k1.key", toPath: keyFile)
        let daemon = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--signing-key", keyFile])
        func post(_ prefix: String) throws {
            let (status, answer) = try ReceiverEndToEndTests.post(daemon.url, body: String(decoding: TestSupport.eventList(count: 25, prefix: prefix), as: UTF8.self),
                                                                  dir: dir, curlOptions: ["-H", "Content-Type: application/json"])
            #expect(status == 200, "\(answer)")
        }
        try post("one")
        // The operator replaces the key file and signals the receiver.
        try FileManager.default.removeItem(atPath: keyFile)
        try FileManager.default.copyItem(atPath: dir + "/k2.key", toPath: keyFile)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitFor("signing key rotated"))
        try post("two")
        #expect(daemon.stop() == 0)

        // Stopped: the command hands over from k2 to k3; a restart with k3 goes on.
        let rotated = try TestSupport.run(Self.binary, ["rotate-key", "--data-dir", dir + "/data", "--signing-key", keyFile, "--new-key", dir + "/k3.key"])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        // The retired key can no longer start a receiver on this store.
        let refused = try TestSupport.run(Self.binary, ["seal", "--data-dir", dir + "/data", "--signing-key", keyFile])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("retired"), "\(refused.stderr)")
        let again = try ReceiverEndToEndTests.Daemon(dir: dir, arguments: ["--signing-key", dir + "/k3.key"])
        let (status, _) = try ReceiverEndToEndTests.post(again.url, body: String(decoding: TestSupport.eventList(count: 25, prefix: "three"), as: UTF8.self),
                                                         dir: dir, curlOptions: ["-H", "Content-Type: application/json"])
        #expect(status == 200)
        #expect(again.stop() == 0)

        // Only the first public key, as an auditor would hold it.
        let verified = try TestSupport.run(Self.binary, ["verify", dir + "/data", "--public-key", dir + "/k1.key.pub"])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.contains("tree size 75"), "\(verified.stdout)")
    }
}
