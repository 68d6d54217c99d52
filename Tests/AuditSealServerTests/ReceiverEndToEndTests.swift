import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// Starts the real `auditseal serve` binary on an ephemeral loopback port with real TLS
/// (certificates made with the openssl CLI) and talks to it with curl, as an API server would.
@Suite(.serialized, .tier(.process)) struct ReceiverEndToEndTests {
    static var packageRoot: String { TestSupport.packageRoot }

    /// scripts/sanitize.sh says which sanitizer the binaries were built with.
    static let underThreadSanitizer = ProcessInfo.processInfo.environment["AUDITSEAL_SANITIZER"] == "thread"
    static let fileSizeLimitUnderTSan: Comment = "ThreadSanitizer's runtime dies with SIGBUS at startup under a small ulimit -f (even `auditseal verify` of nothing); FullDiskTests covers a full disk under it"

    static func temporaryDirectory(_ label: String = #function) -> String { TestSupport.temporaryDirectory("e2e" + label) }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(executable, arguments, in: directory)
    }

    /// A CA, a server certificate for 127.0.0.1, two client certificates from the CA and one from elsewhere.
    static func makeCertificates(in dir: String) throws {
        let script = """
        set -e
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null
        issue() { # name cn ext
          openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" -keyout $1.key -out $1.csr 2>/dev/null
          printf "$3" > $1.ext
          openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile $1.ext -out $1.crt 2>/dev/null
        }
        issue server localhost "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n"
        issue apiserver kube-apiserver "extendedKeyUsage=clientAuth\\n"
        issue intruder intruder "extendedKeyUsage=clientAuth\\n"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=kube-apiserver -keyout rogue.key -out rogue.crt 2>/dev/null
        printf 's3cr3t-token\\n' > token
        """
        let result = try run("/bin/bash", ["-c", script], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// A running receiver.
    final class Daemon {
        let process = Process()
        let dir: String
        var url = ""
        var opsURL = ""
        var stderrPath: String
        let out = Pipe()
        var pending = Data()

        /// `serve` with `arguments` after the test defaults (an ephemeral port, DIR/data, no scheduled
        /// verification), or after `serve` alone when `defaults` is false (a deployment's own arguments).
        init(dir: String, arguments: [String], defaults: Bool = true, fileSizeLimitKB: Int? = nil, environment: [String: String]? = nil) throws {
            self.dir = dir
            stderrPath = dir + "/serve.err"
            FileManager.default.createFile(atPath: stderrPath, contents: nil)
            let binary = TestSupport.product("auditseal")
            let serveArguments = ["serve"] + (defaults ? ["--listen", "127.0.0.1:0", "--data-dir", dir + "/data", "--verify-interval-seconds", "0"] : []) + arguments
            if let limit = fileSizeLimitKB {
                // A full disk, as far as the receiver can tell: writes past the limit fail (EFBIG).
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments = ["-c", "ulimit -f \(limit) && exec \"$0\" \"$@\"", binary] + serveArguments
            } else {
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = serveArguments
            }
            if let environment { process.environment = environment }
            process.standardOutput = out
            process.standardError = FileHandle(forWritingAtPath: stderrPath)
            try process.run()
            // The receiver announces its addresses once it listens (the ops listener too, when asked for).
            // Other announcements (objects shipped) may come first: read until the address lines are whole.
            let expected = ["auditseal: listening "] + (arguments.contains("--ops-listen") ? ["auditseal: ops "] : [])
            var buffer = Data()
            func complete(_ text: String) -> Bool {
                expected.allSatisfy { marker in text.range(of: marker).map { text[$0.upperBound...].contains("\n") } ?? false }
            }
            while !complete(String(decoding: buffer, as: UTF8.self)) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
            }
            let line = String(decoding: buffer, as: UTF8.self)
            pending = buffer  // later waits see what arrived with the address lines
            if let ops = line.range(of: "auditseal: ops ") {
                opsURL = String(line[ops.upperBound...].prefix { !$0.isWhitespace })
            }
            guard let range = line.range(of: "listening ") else {
                throw NSError(domain: "auditseal-e2e", code: 1, userInfo: [NSLocalizedDescriptionKey: "no listening line: \(line) \(String(decoding: FileManager.default.contents(atPath: stderrPath) ?? Data(), as: UTF8.self))"])
            }
            url = String(line[range.upperBound...].prefix { !$0.isWhitespace })
        }

        /// Reads the receiver's standard output until text has appeared `count` times; false at its end.
        func waitFor(_ text: String, count: Int = 1) -> Bool {
            while true {
                if String(decoding: pending, as: UTF8.self).components(separatedBy: text).count - 1 >= count { return true }
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { return false }
                pending.append(chunk)
            }
        }

        /// SIGTERM and wait; returns the exit status.
        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// POSTs with curl; returns (HTTP status, body). Status 0 when the connection or handshake failed.
    static func post(_ url: String, body: String, dir: String, curlOptions: [String] = [], path: String = "/v1/audit?timeout=30s") throws -> (Int, String) {
        let bodyFile = dir + "/body-\(UUID().uuidString.prefix(6))"
        FileManager.default.createFile(atPath: bodyFile, contents: Data(body.utf8))
        let result = try run("/usr/bin/curl", ["-s", "-o", bodyFile + ".out", "-w", "%{http_code}", "-X", "POST", url + path,
                                                "--data-binary", "@" + bodyFile] + curlOptions)
        let answer = (try? String(contentsOfFile: bodyFile + ".out", encoding: .utf8)) ?? ""
        return (Int(result.stdout) ?? 0, answer)
    }

    /// The corpus as EventLists of up to 400 items without kind/apiVersion, as the API server sends them.
    static func corpusBatches() throws -> [String] {
        let fixtures = packageRoot + "/Tests/AuditSealCoreTests/Fixtures/corpus"
        var items = [String]()
        for folder in ["falcosecurity-falco", "liggitt-audit2rbac"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: fixtures + "/" + folder).sorted()
            where (name.hasSuffix(".json") || name.hasSuffix(".log")) && name != "fal_01_003.json" {
                let batch = try EventScanner(mode: .stream).scan(try FileIO.readAll(path: fixtures + "/" + folder + "/" + name))
                for i in 0..<batch.count {
                    var object = try JSONSerialization.jsonObject(with: Data(batch.line(i))) as! [String: Any]
                    object.removeValue(forKey: "kind")
                    object.removeValue(forKey: "apiVersion")
                    items.append(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
                }
            }
        }
        return stride(from: 0, to: items.count, by: 400).map { start in
            #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["# + items[start..<min(items.count, start + 400)].joined(separator: ",") + "]}"
        }
    }

    /// SIGTERM the receiver, expect a clean exit, and expect `verify` to find the store intact
    /// with exactly `events` events.
    static func stopAndVerify(_ daemon: Daemon, _ dir: String, events: Int) throws {
        #expect(daemon.stop() == 0)
        let verified = try verify(dir)
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.contains("tree size \(events)"), "\(verified.stdout)")
    }

    static func verify(_ dir: String) throws -> (status: Int32, stdout: String) {
        let r = try run(TestSupport.product("auditseal"), ["verify", dir + "/data", "--public-key", dir + "/data/signing.key.pub"])
        return (r.status, r.stdout)
    }

    @Test func mutualTLSReceiverStoresTheCorpusOnceAndRefusesStrangers() throws {
        let dir = Self.temporaryDirectory()
        try Self.makeCertificates(in: dir)
        let daemon = try Daemon(dir: dir, arguments: ["--tls-cert", dir + "/server.crt", "--tls-key", dir + "/server.key",
                                                      "--client-ca", dir + "/ca.crt", "--allowed-client-cn", "kube-apiserver"])
        #expect(daemon.url.hasPrefix("https://127.0.0.1:"))
        let trusted = ["--cacert", dir + "/ca.crt", "--cert", dir + "/apiserver.crt", "--key", dir + "/apiserver.key",
                       "-H", "Content-Type: application/json"]
        let batches = try Self.corpusBatches()
        var stored = 0
        for body in batches {
            let (status, answer) = try Self.post(daemon.url, body: body, dir: dir, curlOptions: trusted)
            #expect(status == 200, "\(answer)")
            stored += (try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Int])?["stored"] ?? 0
        }
        // A replayed batch (an answer lost on the way back) is acknowledged and not stored again.
        let replay = try Self.post(daemon.url, body: batches[0], dir: dir, curlOptions: trusted)
        #expect(replay.0 == 200)
        #expect(replay.1.contains(#""stored":0"#))
        // Without a client certificate: 401. A certificate from the CA with another CN: 403.
        // A certificate from elsewhere: the TLS handshake fails.
        let noCert = try Self.post(daemon.url, body: batches[0], dir: dir, curlOptions: ["--cacert", dir + "/ca.crt"])
        #expect(noCert.0 == 401)
        let intruder = try Self.post(daemon.url, body: batches[0], dir: dir, curlOptions: ["--cacert", dir + "/ca.crt", "--cert", dir + "/intruder.crt", "--key", dir + "/intruder.key"])
        #expect(intruder.0 == 403)
        let rogue = try Self.post(daemon.url, body: batches[0], dir: dir, curlOptions: ["--cacert", dir + "/ca.crt", "--cert", dir + "/rogue.crt", "--key", dir + "/rogue.key"])
        #expect(rogue.0 == 0)
        // Health and metrics answer without a client certificate.
        let health = try Self.run("/usr/bin/curl", ["-s", "--cacert", dir + "/ca.crt", daemon.url + "/healthz"])
        #expect(health.stdout == "ok\n")
        let metrics = try Self.run("/usr/bin/curl", ["-s", "--cacert", dir + "/ca.crt", daemon.url + "/metrics"])
        #expect(metrics.stdout.contains("auditseal_events_ingested_total \(stored)"))
        #expect(metrics.stdout.contains("auditseal_batches_total{code=\"401\"} 1"))
        try Self.stopAndVerify(daemon, dir, events: stored)
        #expect(stored == 86)  // 51 falco events, 49 unique by auditID+stage (PROVENANCE.md), + 37
    }

    // Every status of the ingest route (400, 401, 403, 408, 413, 415, 503 with Retry-After) is
    // tested in-process over an in-memory sink: IngestRouteTests.

    @Test func bodiesLargerThanTheMemoryBudgetAreSpooledAndStored() throws {
        let dir = Self.temporaryDirectory()
        // A 256 KiB budget for all bodies in memory, and 5 MB batches: only spooling can take them.
        let daemon = try Daemon(dir: dir, arguments: ["--no-redaction", "--spool-threshold-bytes", "65536", "--max-inflight-bytes", "262144",
                                                      "--max-batch-events", "5000", "--ops-listen", "127.0.0.1:0"])
        let json = ["-H", "Content-Type: application/json"]
        let big = Self.eventList(prefix: "big", count: 4000, padding: 1000)
        #expect(big.utf8.count > 4_000_000)
        let plain = try Self.post(daemon.url, body: big, dir: dir, curlOptions: json)
        #expect(plain.0 == 200, "\(plain.1)")
        #expect(plain.1.contains(#""stored":4000"#))
        // Chunked (no Content-Length: spooled once past the threshold) and gzip (spooled compressed and decoded).
        let chunked = try Self.post(daemon.url, body: Self.eventList(prefix: "chunked", count: 4000, padding: 1000), dir: dir,
                                    curlOptions: json + ["-H", "Transfer-Encoding: chunked"])
        #expect(chunked.0 == 200, "\(chunked.1)")
        let gz = try GzipCompressor.gzip(Array(Self.eventList(prefix: "gz", count: 4000, padding: 1000).utf8))
        FileManager.default.createFile(atPath: dir + "/big.gz", contents: Data(gz))
        let gzResult = try Self.run("/usr/bin/curl", ["-s", "-w", "%{http_code}", "-X", "POST", daemon.url + "/v1/audit",
                                                      "-H", "Content-Encoding: gzip", "-H", "Content-Type: application/json",
                                                      "--data-binary", "@" + dir + "/big.gz"])
        #expect(gzResult.stdout.hasSuffix("200"), "\(gzResult.stdout)")
        // A re-sent spooled batch is still stored once.
        #expect(try Self.post(daemon.url, body: big, dir: dir, curlOptions: json).1.contains(#""stored":0,"duplicates":4000"#))
        // Over the event limit: 413, nothing stored.
        let tooMany = try Self.post(daemon.url, body: Self.eventList(prefix: "many", count: 5001, padding: 0), dir: dir, curlOptions: json)
        #expect(tooMany.0 == 413)
        #expect(tooMany.1.contains("more than 5000 events"))
        let metrics = try Self.run("/usr/bin/curl", ["-s", daemon.opsURL + "/metrics"]).stdout
        #expect(metrics.contains("auditseal_bodies_spooled_total 5"))  // plain, chunked, gz (raw and decoded count once), replay, too many
        // Spool files never outlive their request.
        #expect(try FileIO.list(dir + "/data/spool").isEmpty)
        try Self.stopAndVerify(daemon, dir, events: 12000)
    }

    static func eventList(prefix: String, count: Int, padding: Int = 200) -> String {
        let items = (0..<count).map { #"{"auditID":"\#(prefix)-\#($0)","stage":"ResponseComplete","verb":"get","user":{"username":"bob"},"requestURI":"/api/v1/namespaces/default/pods/\#(String(repeating: "p", count: padding))"}"# }
        return #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":["# + items.joined(separator: ",") + "]}"
    }

    @Test func aBatchResentAfterTheReceiverWasKilledIsStoredOnce() throws {
        let dir = Self.temporaryDirectory()
        let json = ["-H", "Content-Type: application/json"]
        let batch = Self.eventList(prefix: "k", count: 50)
        var daemon = try Daemon(dir: dir, arguments: [])
        #expect(try Self.post(daemon.url, body: batch, dir: dir, curlOptions: json).1.contains(#""stored":50"#))
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        // The API server did not see the answer and sends the batch again to the restarted receiver.
        daemon = try Daemon(dir: dir, arguments: [])
        let again = try Self.post(daemon.url, body: batch, dir: dir, curlOptions: json)
        #expect(again.0 == 200)
        #expect(again.1.contains(#""stored":0,"duplicates":50"#))
        try Self.stopAndVerify(daemon, dir, events: 50)
    }

    @Test(.enabled(if: !Self.underThreadSanitizer, Self.fileSizeLimitUnderTSan))
    func aFullDiskGets503AndEveryAcknowledgedEventSurvives() throws {
        let dir = Self.temporaryDirectory()
        let json = ["-H", "Content-Type: application/json"]
        let daemon = try Daemon(dir: dir, arguments: ["--segment-max-bytes", "10000000"], fileSizeLimitKB: 120)
        var acknowledged = 0
        var refused: (Int, String)?
        for b in 0..<20 {
            let answer = try Self.post(daemon.url, body: Self.eventList(prefix: "f\(b)", count: 40), dir: dir, curlOptions: json + ["-D", dir + "/headers"])
            if answer.0 == 200 { acknowledged += 40; continue }
            refused = answer
            break
        }
        #expect(refused?.0 == 503)
        #expect(refused?.1.contains("storage unavailable") == true)
        #expect((try? String(contentsOfFile: dir + "/headers", encoding: .utf8))?.lowercased().contains("retry-after: 1") == true)
        #expect(acknowledged > 0)
        try Self.stopAndVerify(daemon, dir, events: acknowledged)
    }

    @Test(.enabled(if: !Self.underThreadSanitizer, Self.fileSizeLimitUnderTSan))
    func aBodyThatCannotBeSpooledGets503AndNothingIsStored() throws {
        let dir = Self.temporaryDirectory()
        let json = ["-H", "Content-Type: application/json"]
        // Files may not grow past 120 KB: a 1 MB body cannot be spooled (EFBIG, as on a full disk).
        let daemon = try Daemon(dir: dir, arguments: ["--no-redaction", "--spool-threshold-bytes", "65536", "--max-inflight-bytes", "262144"],
                                fileSizeLimitKB: 120)
        let refused = try Self.post(daemon.url, body: Self.eventList(prefix: "spool", count: 1000, padding: 800), dir: dir,
                                    curlOptions: json + ["-D", dir + "/headers"])
        #expect(refused.0 == 503)
        #expect(refused.1.contains("cannot spool the body"))
        #expect((try? String(contentsOfFile: dir + "/headers", encoding: .utf8))?.lowercased().contains("retry-after: 1") == true)
        // A body under the threshold is still taken in memory.
        #expect(try Self.post(daemon.url, body: Self.eventList(prefix: "small", count: 40), dir: dir, curlOptions: json).0 == 200)
        try Self.stopAndVerify(daemon, dir, events: 40)
    }

    @Test func aReplacedServerCertificateIsServedAfterSIGHUP() throws {
        let dir = Self.temporaryDirectory()
        try Self.makeCertificates(in: dir)
        let daemon = try Daemon(dir: dir, arguments: ["--tls-cert", dir + "/server.crt", "--tls-key", dir + "/server.key"])
        let health = { (ca: String) in try Self.run("/usr/bin/curl", ["-s", "--cacert", ca, daemon.url + "/healthz"]).stdout }
        #expect(try health(dir + "/ca.crt") == "ok\n")
        // A new CA and server certificate replace the files in place.
        let next = dir + "/next"
        try FileManager.default.createDirectory(atPath: next, withIntermediateDirectories: true)
        try Self.makeCertificates(in: next)
        for name in ["server.crt", "server.key"] {
            try FileManager.default.removeItem(atPath: dir + "/" + name)
            try FileManager.default.copyItem(atPath: next + "/" + name, toPath: dir + "/" + name)
        }
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemon.waitFor("tls reloaded"))
        #expect(try health(next + "/ca.crt") == "ok\n")
        #expect(try health(dir + "/ca.crt") == "")  // the old CA no longer verifies the server
        #expect(daemon.stop() == 0)
    }

    @Test func aClientTricklingHeadersIsDisconnected() throws {
        let dir = Self.temporaryDirectory()
        let daemon = try Daemon(dir: dir, arguments: ["--header-timeout-seconds", "1"])
        let port = daemon.url.split(separator: ":").last!
        // Half a request head, then silence: the receiver closes the connection (cat sees EOF);
        // `timeout 30` only guards the test against a receiver that never does.
        let script = "exec 3<>/dev/tcp/127.0.0.1/\(port); printf 'POST /v1/audit HTTP/1.1\\r\\nHost: x\\r\\n' >&3; timeout 30 cat <&3; echo \"exit=$?\""
        let result = try Self.run("/bin/bash", ["-c", script])
        #expect(result.stdout.hasSuffix("exit=0\n"), "\(result.stdout) \(result.stderr)")
        // A complete request on a fresh connection is still served.
        #expect(try Self.run("/usr/bin/curl", ["-s", daemon.url + "/healthz"]).stdout == "ok\n")
        #expect(daemon.stop() == 0)
    }

    @Test func invalidConfigurationExitsNamingTheField() throws {
        let dir = Self.temporaryDirectory()
        try "listen: 127.0.0.1:8080\nmaxBodyBytes: lots\n".write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try Self.run(TestSupport.product("auditseal"), ["serve", "--config", dir + "/bad.yaml", "--data-dir", dir + "/d"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("maxBodyBytes"))
        try "listne: 127.0.0.1:8080\n".write(toFile: dir + "/typo.yaml", atomically: true, encoding: .utf8)
        let typo = try Self.run(TestSupport.product("auditseal"), ["serve", "--config", dir + "/typo.yaml"])
        #expect(typo.status == 2)
        #expect(typo.stderr.contains("listne"))
        let open = try Self.run(TestSupport.product("auditseal"), ["serve", "--listen", "0.0.0.0:8080", "--data-dir", dir + "/d"])
        #expect(open.status == 2)
        #expect(open.stderr.contains("listen"))
    }
}
