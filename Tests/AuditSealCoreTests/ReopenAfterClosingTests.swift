import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// A closing manifest ("nothing more is due") must not end what comes after it: a store opened
/// again writes a non-closing heartbeat before it takes any event, so events acknowledged after a
/// restart and then cut from the write-ahead file (a crash before the next heartbeat, or root on
/// the node) are found.
@Suite struct ReopenAfterClosingTests {
    static func open(_ dir: String, _ key: Ed25519PrivateKey) throws -> AuditStore {
        var config = StoreConfiguration(dataDirectory: dir, nodeName: "cp-1")
        config.heartbeatInterval = 60
        return try AuditStore(configuration: config, signingKey: key)
    }

    static func manifests(_ dir: String) throws -> [Manifest] {
        let layout = StoreLayout(root: dir)
        return try layout.manifestSequences().map { try StableJSON.decode(Manifest.self, from: try FileIO.readAll(path: layout.manifestPath($0))) }
    }

    @Test func eventsAfterARestartAreNeverBehindAClosingManifest() async throws {
        let base = TestSupport.temporaryDirectory("reopen")
        let key = try TestSupport.signingKey(in: base).key
        let live = base + "/live"

        // First run: 10 events, a clean stop (closing manifest).
        let first = try Self.open(live, key)
        _ = try await first.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 10, prefix: "before")))
        try await first.close()
        #expect(try Self.manifests(live).last?.closing == true)

        // Second run: the reopen itself writes a non-closing heartbeat at the sealed tree size.
        let second = try Self.open(live, key)
        let afterOpen = try Self.manifests(live)
        #expect(afterOpen.last?.closing == false)
        #expect(afterOpen.last?.type == "heartbeat")
        #expect(afterOpen.last?.treeSize == 10)
        // Five events are acknowledged, then the process "crashes" before its next heartbeat: the
        // directory as it is now, with the five events cut from the write-ahead file.
        let acknowledged = try await second.append(try EventScanner(mode: .eventList).scan(TestSupport.eventList(count: 5, prefix: "after")))
        #expect(acknowledged.stored == 5)
        let crashed = base + "/crashed"
        try FileManager.default.copyItem(atPath: live, toPath: crashed)
        try await second.close()
        for name in try FileIO.list(crashed + "/wal") { #expect(unlink(crashed + "/wal/" + name) == 0) }

        let options = { (now: Date) -> Verifier.Options in
            var o = Verifier.Options(trustedKeys: [key.publicKey])
            o.now = now
            return o
        }
        // Within the heartbeat window nothing can tell yet (that window is what heartbeats bound)...
        let soon = Verifier(source: DirectorySource(root: crashed), options: options(Date())).run()
        #expect(soon.intact, "\(soon.findings)")
        // ...but once the next heartbeat is overdue, the missing tail is a finding. Behind a closing
        // manifest (before this change) it never was.
        let later = Verifier(source: DirectorySource(root: crashed), options: options(Date().addingTimeInterval(2 * 60 + 61))).run()
        #expect(!later.intact)
        #expect(later.findings.contains { $0.code == "tail-gap" }, "\(later.findings)")

        // The cleanly stopped store is intact at any time, and holds all 15 events.
        let clean = Verifier(source: DirectorySource(root: live), options: options(Date().addingTimeInterval(86_400))).run()
        #expect(clean.intact, "\(clean.findings)")
        #expect(clean.treeSize == 15)
    }
}
