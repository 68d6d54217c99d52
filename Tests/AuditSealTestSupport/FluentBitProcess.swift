import AuditSealCore
import Foundation

/// Fluent Bit 5.1 (`../shared/tools/fluent-bit`, or `AUDITSEAL_FLUENT_BIT`) with its HTTP, Splunk
/// HEC, Elasticsearch bulk and OTLP inputs on free loopback ports, each writing what it receives
/// to a file: the real receiving end of the forwarding tests.
public final class FluentBitProcess {
    public static let binary: String? = {
        let candidates = [ProcessInfo.processInfo.environment["AUDITSEAL_FLUENT_BIT"],
                          TestSupport.packageRoot + "/../shared/tools/fluent-bit/fluent-bit"].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        FileHandle.standardError.write(Data("""

            *** SKIPPING the forwarding tests with a real receiver: Fluent Bit not found (tried \(candidates.joined(separator: ", "))).
            *** Set AUDITSEAL_FLUENT_BIT to ../shared/tools/fluent-bit/fluent-bit (see .ci/run). ***


            """.utf8))
        return nil
    }()

    public let ports: (http: Int, splunk: Int, elasticsearch: Int, otlp: Int, metrics: Int)
    public let out: String
    public let splunkToken = "hec-token-for-tests"
    var process: Process?

    /// Reserves the ports (bound once and released) and the output directory; `start()` runs it.
    public init(dir: String) throws {
        func freePort() -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            return Int(UInt16(bigEndian: address.sin_port))
        }
        ports = (freePort(), freePort(), freePort(), freePort(), freePort())
        out = dir + "/fluent-bit-out"
        try FileIO.makeDirectories(out)
    }

    /// Starts it and returns once its four inputs listen.
    public func start() throws {
        guard let binary = Self.binary else { throw AuditSealError(.usage, "no Fluent Bit") }
        let config = URL(fileURLWithPath: binary).deletingLastPathComponent().path + "/sinks.yaml"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["-c", config]
        var env = ProcessInfo.processInfo.environment
        env["FB_HTTP_PORT"] = String(ports.http); env["FB_SPLUNK_PORT"] = String(ports.splunk)
        env["FB_ES_PORT"] = String(ports.elasticsearch); env["FB_OTLP_PORT"] = String(ports.otlp)
        env["FB_METRICS_PORT"] = String(ports.metrics); env["FB_SPLUNK_TOKEN"] = splunkToken; env["FB_OUT"] = out
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        // (Its output is this pipe, not the runner's: a Fluent Bit left behind cannot hold the runner up.)
        process = p
        var log = ""
        while log.components(separatedBy: "listening on 127.0.0.1:").count < 5 {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { throw AuditSealError(.io, "fluent-bit exited: \(log)") }
            log += String(decoding: chunk, as: UTF8.self)
        }
        // Keep draining its output so that it never blocks on a full pipe.
        pipe.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    }

    /// Stops it: kill -9 (the test runner's children ignore SIGTERM; the tests wait for what they
    /// need to be in the files before they stop it).
    public func stop() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    deinit { stop() }

    /// The lines of one output file (webhook.out, splunk.out, elasticsearch.out, otlp.out).
    public func lines(_ file: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: out + "/" + file) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Waits (up to `seconds`) until `condition` holds, checking as Fluent Bit flushes (each second).
    public static func eventually(seconds: Double = 120, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(200_000)  // a poll of the output files, which Fluent Bit writes once a second
        }
        return condition()
    }
}
