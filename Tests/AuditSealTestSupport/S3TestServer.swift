import AuditSealShipping
import Foundation

/// The real S3 server the integration tests talk to: `AUDITSEAL_S3_ENDPOINT` (with
/// `AUDITSEAL_S3_ACCESS_KEY` / `AUDITSEAL_S3_SECRET_KEY`, and `AUDITSEAL_S3_TLS_ENDPOINT` /
/// `AUDITSEAL_S3_CA` for HTTPS) when set, as `.ci/run` does; otherwise a
/// Ceph RADOS Gateway started once per test process with `scripts/rgw.sh` and stopped at exit.
public struct S3TestServer: Sendable {
    public var endpoint: String
    public var accessKey: String
    public var secretKey: String
    /// The same server over HTTPS, and the CA (PEM) its certificate chains to, when available.
    public var tlsEndpoint: String?
    public var caFile: String?

    /// The server, or nil (with a loud message on stderr) when none is configured and none can be started.
    public static let shared: S3TestServer? = {
        guard Tier.s3.isSelected else { return nil }
        let env = ProcessInfo.processInfo.environment
        if let endpoint = env["AUDITSEAL_S3_ENDPOINT"], !endpoint.isEmpty {
            return S3TestServer(endpoint: endpoint, accessKey: env["AUDITSEAL_S3_ACCESS_KEY"] ?? "AUDITSEALTESTKEY",
                                secretKey: env["AUDITSEAL_S3_SECRET_KEY"] ?? "auditseal-test-secret",
                                tlsEndpoint: env["AUDITSEAL_S3_TLS_ENDPOINT"], caFile: env["AUDITSEAL_S3_CA"])
        }
        let dir = NSTemporaryDirectory() + "auditseal-rgw-\(getpid())"
        let text = rgw(["up", dir])
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("endpoint=") }) else {
            FileHandle.standardError.write(Data("""
                ********************************************************************************
                SKIPPING S3 INTEGRATION TESTS: AUDITSEAL_S3_ENDPOINT is unset and scripts/rgw.sh
                could not start a Ceph RADOS Gateway here (needs root or Debian's ceph packages):
                \(text.suffix(500))
                ********************************************************************************

                """.utf8))
            return nil
        }
        atexit { _ = S3TestServer.rgw(["down", NSTemporaryDirectory() + "auditseal-rgw-\(getpid())"]) }
        var fields = [String: String]()
        for pair in line.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return S3TestServer(endpoint: fields["endpoint"] ?? "", accessKey: fields["access_key"] ?? "", secretKey: fields["secret_key"] ?? "",
                            tlsEndpoint: fields["tls_endpoint"], caFile: fields["ca"])
    }()

    /// Runs scripts/rgw.sh and returns what it printed (stdout and stderr). Reads to the end of its
    /// output instead of waiting for its exit: called from a trait's condition while the test
    /// runner starts, Foundation's Process could miss the child's exit and wait forever.
    static func rgw(_ arguments: [String]) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [TestSupport.packageRoot + "/scripts/rgw.sh"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["RGW_NO_INSTALL"] = "1"  // a test never installs packages: .ci/run does
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        guard (try? process.run()) != nil else { return "cannot run scripts/rgw.sh" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        return String(decoding: output, as: UTF8.self)
    }

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

    /// A client for a bucket on this server (path-style, plain HTTP).
    public func client(bucket: String) throws -> S3Client {
        try S3Client(endpoint: try S3Endpoint(url: endpoint, bucket: bucket),
                     credentials: .init(accessKeyID: accessKey, secretAccessKey: secretKey))
    }

    /// A new bucket with Object Lock, and a client for it.
    public func lockedBucket(_ label: String) async throws -> (name: String, client: S3Client) {
        let bucket = Self.bucketName(label)
        let s3 = try client(bucket: bucket)
        try await s3.createBucket(objectLock: true)
        return (bucket, s3)
    }

    /// A fresh bucket name.
    public static func bucketName(_ label: String) -> String {
        "t-\(label.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(20))-\(UUID().uuidString.prefix(8).lowercased())"
    }
}
