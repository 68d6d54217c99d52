import AuditSealCore
import AuditSealServer
import AuditSealTestSupport
import Foundation
import Testing

/// `serve --config`: several files or a directory (a mounted ConfigMap) merged by top-level field,
/// and every level of the file checked for unknown fields (issue 30, items 1 and 9).
@Suite(.tier(.process)) struct ServeConfigurationFilesTests {
    static func write(_ dir: String, _ name: String, _ text: String) throws {
        try FileIO.writeAtomically(path: dir + "/" + name, bytes: Array(text.utf8))
    }

    @Test func aDirectoryIsReadInNameOrderAndALaterFieldWinsWhole() throws {
        let dir = TestSupport.temporaryDirectory("config-dir")
        try Self.write(dir, "auditseal.yaml", """
            maxConnections: 1024
            segmentMaxAgeSeconds: 60
            reconcile:
              auditLogPaths: [/var/log/a.log]
              settleSeconds: 10
            """)
        try Self.write(dir, "s3.yaml", "s3Endpoint: http://127.0.0.1:1\ns3Bucket: b\nsegmentMaxAgeSeconds: 30\n")
        // What kubelet puts beside a ConfigMap's files, and files that are not YAML: ignored.
        try FileIO.makeDirectories(dir + "/..2026_12_05_10_00_00.123")
        try Self.write(dir, "README", "not: [a config")
        let c = try ServeConfiguration.load(yamlFile: dir)
        #expect(c.maxConnections == 1024 && c.reconcile?.auditLogPaths == ["/var/log/a.log"] && c.reconcile?.settleSeconds == 10)
        #expect(c.s3Bucket == "b" && c.segmentMaxAgeSeconds == 30)
        // Files given one by one: the same rule, in the order given.
        let reversed = try ServeConfiguration.load(yamlFiles: [dir + "/s3.yaml", dir + "/auditseal.yaml"])
        #expect(reversed.segmentMaxAgeSeconds == 60 && reversed.s3Bucket == "b")
    }

    @Test(arguments: [
        ("reconcile:\n  auditLogPath: [/x]\n", "reconcile.auditLogPath"),
        ("reconcile:\n  apiServers:\n    - url: https://a\n      tokenfile: /t\n", "reconcile.apiServers[0].tokenfile"),
        ("witnesses:\n  - url: https://w\n    key: k\n    timeout: 3\n", "witnesses[0].timeout"),
        ("maxConnection: 3\n", "maxConnection"),
    ])
    func aTypoAtAnyLevelIsRefusedByItsPath(_ yaml: String, _ field: String) throws {
        let dir = TestSupport.temporaryDirectory("config-typo")
        try Self.write(dir, "auditseal.yaml", "listen: 127.0.0.1:0\n")
        try Self.write(dir, "zz-extra.yaml", yaml)
        do {
            _ = try ServeConfiguration.load(yamlFile: dir)
            Issue.record("\(field) was accepted")
        } catch let error as ConfigurationError {
            #expect(error.description == "\(dir)/zz-extra.yaml: unknown field \"\(field)\"")
        }
    }

    @Test func theBinaryTakesADirectoryAndNamesItsVersion() throws {
        let binary = TestSupport.product("auditseal")
        let version = try TestSupport.run(binary, ["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("auditseal ") && version.stdout.contains("(commit "), "\(version.stdout)")
        // Shell completion, as OPERATIONS.md documents it.
        for shell in ["bash", "zsh", "fish"] {
            let script = try TestSupport.run(binary, ["--generate-completion-script", shell])
            #expect(script.status == 0 && script.stdout.contains("auditseal") && script.stdout.contains("verify"), "\(shell)")
        }
        let dir = TestSupport.temporaryDirectory("config-serve")
        try Self.write(dir, "auditseal.yaml", "reconcile:\n  intervalSecond: 3\n")
        let refused = try TestSupport.run(binary, ["serve", "--config", dir, "--data-dir", dir + "/data"])
        #expect(refused.status == 2 && refused.stderr.contains("unknown field \"reconcile.intervalSecond\""), "\(refused.stderr)")
    }

    @Test func aMissingProjectedTokenIsNamedByItsConfigKey() throws {
        let dir = TestSupport.temporaryDirectory("config-token")
        try Self.write(dir, "auditseal.yaml", """
            reconcile:
              apiServers:
                - {name: local, url: "https://127.0.0.1:6443", tokenFile: \(dir)/absent/token}
            """)
        let refused = try TestSupport.run(TestSupport.product("auditseal"), ["serve", "--config", dir, "--data-dir", dir + "/data"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("reconcile.apiServers[0].tokenFile: cannot read \(dir)/absent/token") && refused.stderr.contains("projected volume apiserver-metrics"), "\(refused.stderr)")
    }
}
