import Foundation

/// The real S3 server the integration tests talk to: `AUDITSEAL_S3_ENDPOINT` (with
/// `AUDITSEAL_S3_ACCESS_KEY` / `AUDITSEAL_S3_SECRET_KEY`) when set, as `.ci/run` does; otherwise a
/// Ceph RADOS Gateway started once per test process with `scripts/rgw.sh` and stopped at exit.
public struct S3TestServer: Sendable {
    public var endpoint: String
    public var accessKey: String
    public var secretKey: String

    /// The server, or nil (with a loud message on stderr) when none is configured and none can be started.
    public static let shared: S3TestServer? = {
        let env = ProcessInfo.processInfo.environment
        if let endpoint = env["AUDITSEAL_S3_ENDPOINT"], !endpoint.isEmpty {
            return S3TestServer(endpoint: endpoint, accessKey: env["AUDITSEAL_S3_ACCESS_KEY"] ?? "AUDITSEALTESTKEY",
                                secretKey: env["AUDITSEAL_S3_SECRET_KEY"] ?? "auditseal-test-secret")
        }
        let dir = NSTemporaryDirectory() + "auditseal-rgw-\(getpid())"
        let script = TestSupport.packageRoot + "/scripts/rgw.sh"
        guard let result = try? TestSupport.run("/bin/bash", [script, "up", dir]), result.status == 0,
              let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("endpoint=") }) else {
            FileHandle.standardError.write(Data("""
                ********************************************************************************
                SKIPPING S3 INTEGRATION TESTS: AUDITSEAL_S3_ENDPOINT is unset and scripts/rgw.sh
                could not start a Ceph RADOS Gateway here (needs root or Debian's ceph packages).
                ********************************************************************************

                """.utf8))
            return nil
        }
        atexit { _ = try? TestSupport.run("/bin/bash", [TestSupport.packageRoot + "/scripts/rgw.sh", "down", NSTemporaryDirectory() + "auditseal-rgw-\(getpid())"]) }
        var fields = [String: String]()
        for pair in line.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return S3TestServer(endpoint: fields["endpoint"] ?? "", accessKey: fields["access_key"] ?? "", secretKey: fields["secret_key"] ?? "")
    }()

    /// Whether tests that need the server can run.
    public static var available: Bool { shared != nil }

    /// Environment for child processes: these credentials as AWS_* variables.
    public var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["AWS_ACCESS_KEY_ID"] = accessKey
        env["AWS_SECRET_ACCESS_KEY"] = secretKey
        env.removeValue(forKey: "AWS_SESSION_TOKEN")
        return env
    }

    /// A fresh bucket name.
    public static func bucketName(_ label: String) -> String {
        "t-\(label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20))-\(UUID().uuidString.prefix(8).lowercased())"
    }
}
