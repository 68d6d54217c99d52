import AuditSealCore
import Foundation

/// Helpers shared by the tests: temporary directories, fixtures, event generators, processes.
public enum TestSupport {
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static var fixtures: String { packageRoot + "/Tests/AuditSealCoreTests/Fixtures" }

    /// A fresh empty directory under the system temp folder.
    public static func temporaryDirectory(_ label: String = #function) -> String {
        let clean = label.filter { $0.isLetter || $0.isNumber }
        let path = NSTemporaryDirectory() + "auditseal-test-\(clean.prefix(40))-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Every corpus file (falco + audit2rbac), as paths.
    public static func corpusFiles() -> [String] {
        var out = [String]()
        for folder in ["falcosecurity-falco", "liggitt-audit2rbac"] {
            let dir = fixtures + "/corpus/" + folder
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir))?.sorted() ?? [] where name.hasSuffix(".json") || name.hasSuffix(".log") {
                out.append(dir + "/" + name)
            }
        }
        return out
    }

    /// Every valid real event of the corpus, as stored lines (the one bad-input file excluded).
    public static func corpusEvents() throws -> EventBatch {
        var all = [UInt8]()
        for path in corpusFiles() where !path.hasSuffix("fal_01_003.json") {
            all += try FileIO.readAll(path: path) + [0x0a]
        }
        return try EventScanner(mode: .stream).scan(all)
    }

    /// A webhook EventList body of n synthetic ~1.3 KB Metadata events (items without kind/apiVersion).
    public static func eventList(count: Int, prefix: String = "ev", start: Int = 0) -> [UInt8] {
        var body = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["#
        for i in start..<(start + count) {
            if i > start { body += "," }
            body += syntheticItem(auditID: "\(prefix)-\(i)")
        }
        return Array((body + "]}").utf8)
    }

    /// One synthetic Metadata-level event item of about 1.3 KB, shaped like the API server's.
    public static func syntheticItem(auditID: String) -> String {
        #"{"level":"Metadata","auditID":"\#(auditID)","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments/web?timeout=30s","verb":"delete","user":{"username":"alice@example.com","groups":["system:authenticated","oidc:platform-admins"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=4f1c2d3e-5a6b-7c8d-9e0f-112233445566"]}},"sourceIPs":["10.20.30.40"],"userAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46","objectRef":{"resource":"deployments","namespace":"prod","name":"web","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Success","code":200},"requestReceivedTimestamp":"2026-11-25T10:00:00.123456Z","stageTimestamp":"2026-11-25T10:00:00.134567Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"platform-admins\" of ClusterRole \"cluster-admin\" to Group \"oidc:platform-admins\"","pod-security.kubernetes.io/enforce-policy":"restricted:latest","apiserver.latency.k8s.io/etcd":"4.123456ms","apiserver.latency.k8s.io/serialize-response-object":"112.34µs","apiserver.latency.k8s.io/response-write":"1.234µs","apiserver.latency.k8s.io/total":"11.111111ms","mutation.webhook.admission.k8s.io/round_0_index_0":"{\"configuration\":\"policy-webhook\",\"webhook\":\"policy.example.com\",\"mutated\":false}","validation.policy.admission.k8s.io/validation_failure":"[]"}}"#
    }

    /// n synthetic events as the API server's log backend writes them (`--audit-log-path`: one
    /// `Event` a line, in Go's encoding, map keys sorted), with stageTimestamp `time`: what the
    /// webhook sender delivers of these lines is stored byte for byte the same.
    ///
    /// The default stamp is one hour before the test runs, never a calendar date: a fixed date ages
    /// past the reconciliation horizon (168 h) and turns a backfill test red a week later.
    public static func apiServerLogLines(count: Int, prefix: String, start: Int = 0, time: String = recentStageTimestamp) -> [UInt8] {
        let received = String(time.prefix(20)) + "123456Z"
        var out = ""
        for i in start..<(start + count) {
            out += #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"\#(prefix)-\#(i)","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments/web?timeout=30s","verb":"delete","user":{"username":"alice@example.com","groups":["system:authenticated","oidc:platform-admins"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=4f1c2d3e-5a6b-7c8d-9e0f-112233445566"]}},"sourceIPs":["10.20.30.40"],"userAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46","objectRef":{"resource":"deployments","namespace":"prod","name":"web","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"status":"Success","code":200},"requestReceivedTimestamp":"\#(received)","stageTimestamp":"\#(time)","annotations":{"apiserver.latency.k8s.io/etcd":"4.123456ms","apiserver.latency.k8s.io/response-write":"1.234µs","apiserver.latency.k8s.io/serialize-response-object":"112.34µs","apiserver.latency.k8s.io/total":"11.111111ms","authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"platform-admins\" of ClusterRole \"cluster-admin\" to Group \"oidc:platform-admins\"","mutation.webhook.admission.k8s.io/round_0_index_0":"{\"configuration\":\"policy-webhook\",\"webhook\":\"policy.example.com\",\"mutated\":false}","pod-security.kubernetes.io/enforce-policy":"restricted:latest","validation.policy.admission.k8s.io/validation_failure":"[]"}}"#
            out += "\n"
        }
        return Array(out.utf8)
    }

    /// An API server's stageTimestamp one hour before now, on a whole second with `.134567` after it.
    public static let recentStageTimestamp: String = {
        let stamp = Timestamp.format(Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3600).rounded(.down)))
        return String(stamp.prefix(19)) + ".134567Z"
    }()

    /// A signing key written to dir/signing.key (mode 0600).
    public static func signingKey(in dir: String) throws -> (key: Ed25519PrivateKey, path: String) {
        let path = dir + "/signing.key"
        return (try KeyFiles.generate(at: path), path)
    }

    /// Runs a program to completion; returns exit status and output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           in directory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Both pipes drain at once: a program that fills one while the other is read would block forever.
        let errBox = DataBox()
        let errReader = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); errBox.done.signal() }
        errReader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        errBox.done.wait()
        let errData = errBox.data
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// A product built by SwiftPM next to the test bundle.
    public static func product(_ name: String) -> String {
        let candidates = [Bundle.main.bundleURL.path, Bundle.main.bundleURL.deletingLastPathComponent().path,
                          packageRoot + "/.build/debug"]
        for dir in candidates where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        return packageRoot + "/.build/debug/" + name
    }

    /// The stored lines of every sealed segment and open write-ahead segment, in chain order.
    public static func storedLines(_ dataDir: String) throws -> [String] {
        let layout = StoreLayout(root: dataDir)
        var lines = [String]()
        for sequence in try layout.manifestSequences() where FileIO.exists(layout.segmentPath(sequence)) {
            let data = try GzipDecompressor.gunzip(try FileIO.readAll(path: layout.segmentPath(sequence)))
            lines += String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        }
        for path in try layout.walPaths() {
            _ = try WriteAheadReader(path: path).read { _, line, _ in lines.append(String(decoding: line, as: UTF8.self)) }
        }
        return lines
    }

    /// The auditID of each stored line.
    public static func auditIDs(_ lines: [String]) throws -> [String] {
        try lines.map { try EventScanner(mode: .stream).scan(Array($0.utf8)).auditID(0) }
    }
}

/// A reader thread's result.
final class DataBox: @unchecked Sendable {
    var data = Data()
    let done = DispatchSemaphore(value: 0)
}
