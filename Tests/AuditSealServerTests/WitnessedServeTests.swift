import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Witnesses in normal operation, as OPERATIONS.md has the operator run them (issue 30 item 4): the
/// witness under a path prefix with the URL form the docs give, a signing-key rotation done as
/// documented (the new key's log key given to the witness first), a clean stop whose closing
/// checkpoint is cosigned (`verify --witness-quorum 1` INTACT), and `prove --witness` followed by
/// `verify-proof --witness` without naming a checkpoint.
@Suite(.tier(.process)) struct WitnessedServeTests {
    typealias Daemon = ReceiverEndToEndTests.Daemon
    static let binary = TestSupport.product("auditseal")

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try TestSupport.run(binary, arguments)
        return (r.status, r.stdout, r.stderr)
    }

    static func body(_ prefix: String, _ n: Int) -> String { String(decoding: TestSupport.eventList(count: n, prefix: prefix), as: UTF8.self) }

    @Test func rotationCleanStopAndProofKeepBeingWitnessed() throws {
        let dir = TestSupport.temporaryDirectory("witnessed-serve")
        let data = dir + "/data"
        // The chain first (its origin names its ID), and both keys' log keys for the witness.
        #expect(try Self.run(["keygen", "--out", dir + "/k1.key"]).status == 0)
        #expect(try Self.run(["keygen", "--out", dir + "/k2.key"]).status == 0)
        #expect(try Self.run(["keygen", "--out", dir + "/witness.key"]).status == 0)
        try FileIO.writeAtomically(path: dir + "/first.jsonl", bytes: TestSupport.apiServerLogLines(count: 5, prefix: "imported"))
        #expect(try Self.run(["import", "--data-dir", data, "--signing-key", dir + "/k1.key", "--node", "cp-1", dir + "/first.jsonl"]).status == 0)
        let logKey1 = try Self.run(["witness", "--log-key-for", data, "--public-key", dir + "/k1.key.pub"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let logKey2 = try Self.run(["witness", "--log-key-for", data, "--public-key", dir + "/k2.key.pub"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let witnessArgs = ["--key", dir + "/witness.key", "--data-dir", dir + "/witness", "--name", "witness.example.com/audit"]
        let witnessKey = try Self.run(["witness"] + witnessArgs + ["--print-key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let witness = try WitnessProcess(arguments: witnessArgs + ["--path-prefix", "/audit", "--log", logKey1, "--log", logKey2])
        defer { witness.kill() }
        let witnessURL = witness.url

        // The receiver's key file, replaced in place for the rotation as the Secret would be.
        try FileIO.writeAtomically(path: dir + "/signing.key", bytes: try FileIO.readAll(path: dir + "/k1.key"))
        chmod(dir + "/signing.key", 0o600)
        try FileIO.writeAtomically(path: dir + "/serve.yaml", bytes: Array("""
            node: cp-1
            signingKey: \(dir)/signing.key
            witnesses:
              - url: \(witnessURL)/audit
                key: "\(witnessKey)"
            witnessIntervalSeconds: 3600
            """.utf8))
        let json = ["-H", "Content-Type: application/json"]
        let daemon = try Daemon(dir: dir, arguments: ["--config", dir + "/serve.yaml"])
        #expect(try ReceiverEndToEndTests.post(daemon.url, body: Self.body("before", 20), dir: dir, curlOptions: json).0 == 200)
        try FileIO.writeAtomically(path: dir + "/signing.key", bytes: try FileIO.readAll(path: dir + "/k2.key"))
        chmod(dir + "/signing.key", 0o600)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitFor("auditseal: signing key rotated "))
        #expect(try ReceiverEndToEndTests.post(daemon.url, body: Self.body("after", 20), dir: dir, curlOptions: json).0 == 200)
        #expect(daemon.stop() == 0)
        let log = String(decoding: try FileIO.readAll(path: daemon.stderrPath), as: UTF8.self)
        #expect(!log.contains("closing checkpoint was not cosigned"), "\(log.suffix(2000))")

        // The clean stop's closing checkpoint, signed by the new key, is cosigned: the whole chain is witnessed.
        let verified = try Self.run(["verify", data, "--public-key", dir + "/k1.key.pub", "--witness", witnessKey, "--witness-quorum", "1"])
        #expect(verified.status == 0 && verified.stdout.contains("INTACT"), "\(verified.stdout)")
        // prove picks the newest checkpoint the witness cosigned; verify-proof --witness accepts it.
        let proved = try Self.run(["prove", data, "--audit-id", "after-7", "--witness", witnessKey, "-o", dir + "/after-7.proof.json"])
        #expect(proved.status == 0, "\(proved.stderr)")
        // A proof carries no handover: its checkpoint's signer (the new key) is named to verify-proof.
        let checked = try Self.run(["verify-proof", dir + "/after-7.proof.json", "--public-key", dir + "/k1.key.pub", "--public-key", dir + "/k2.key.pub", "--witness", witnessKey])
        #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
    }
}
