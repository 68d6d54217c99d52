import AuditSealCore
import AuditSealTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import AuditSealServer

/// The ingest route's whole status matrix, in the test process: the receiver's own router driven
/// by HummingbirdTesting over an in-memory sink (no binary, no port). Each refusal gets its status
/// and a one-line reason, and appends nothing. The process tests keep what needs a process: TLS
/// handshakes, signals, kill -9, full disks, the real API-server sender.
@Suite(.tier(.unit)) struct IngestRouteTests {
    /// Keeps what is appended in memory, or fails as storage that cannot write.
    final class MemorySink: BatchAppending {
        let appended = Mutex<[EventBatch]>([])
        let failing: Bool
        init(failing: Bool = false) { self.failing = failing }

        func append(_ batch: EventBatch) async throws -> AppendResult {
            if failing { throw AuditSealError.io("write-ahead log: No space left on device", errno: ENOSPC) }
            return appended.withLock { all in
                let first = UInt64(all.reduce(0) { $0 + $1.count })
                all.append(batch)
                return AppendResult(stored: batch.count, duplicates: 0, firstIndex: first)
            }
        }

        var events: Int { appended.withLock { $0.reduce(0) { $0 + $1.count } } }
    }

    static let token = "s3cr3t-token"
    static let good = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a-1","stage":"ResponseComplete","verb":"delete","user":{"username":"alice"},"objectRef":{"resource":"deployments","namespace":"prod","name":"web"}}]}"#

    static func route(_ sink: MemorySink, _ adjust: (inout ServeConfiguration) -> Void = { _ in }) throws -> IngestRoute {
        let dir = TestSupport.temporaryDirectory()
        try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/token"))
        var configuration = ServeConfiguration()
        configuration.dataDir = dir
        configuration.maxBodyBytes = 200_000
        configuration.maxBatchEvents = 50
        adjust(&configuration)
        return IngestRoute(store: sink, configuration: configuration, metrics: ReceiverMetrics(), token: try BearerToken(path: dir + "/token"),
                           logger: Logger(label: "test"), budget: MemoryBudget(limit: configuration.maxInflightBytes),
                           lane: LargeBatchLane(threshold: configuration.largeBatchBytes), preparer: nil)
    }

    static func headers(token: String? = IngestRouteTests.token, type: String? = "application/json", encoding: String? = nil) -> HTTPFields {
        var h = HTTPFields()
        if let token { h[.authorization] = "Bearer " + token }
        if let type { h[.contentType] = type }
        if let encoding { h[.contentEncoding] = encoding }
        return h
    }

    /// POSTs each body through the receiver's router; returns (status, reason or answer, Retry-After).
    static func post(_ route: IngestRoute, _ requests: [(body: [UInt8], headers: HTTPFields)]) async throws -> [(status: Int, text: String, retryAfter: String?)] {
        let app = Application(router: Receiver.router(route, path: "/v1/audit"))
        return try await app.test(.router) { client in
            var out = [(status: Int, text: String, retryAfter: String?)]()
            for r in requests {
                let response = try await client.execute(uri: "/v1/audit?timeout=30s", method: .post, headers: r.headers, body: ByteBuffer(bytes: r.body))
                out.append((Int(response.status.code), String(buffer: response.body), response.headers[.retryAfter]))
            }
            return out
        }
    }

    static func post(_ route: IngestRoute, _ body: String, _ headers: HTTPFields = headers()) async throws -> (status: Int, text: String, retryAfter: String?) {
        try await post(route, [(Array(body.utf8), headers)])[0]
    }

    @Test func accepted() async throws {
        let sink = MemorySink()
        let route = try Self.route(sink)
        let ok = try await Self.post(route, Self.good)
        #expect(ok.status == 200 && ok.text == #"{"stored":1,"duplicates":0}"# + "\n")
        // gzip, and no Content-Type at all, are accepted too.
        let gz = try GzipCompressor.gzip(Array(Self.good.replacingOccurrences(of: "a-1", with: "a-2").utf8))
        #expect(try await Self.post(route, [(gz, Self.headers(type: nil, encoding: "gzip"))])[0].status == 200)
        #expect(sink.events == 2)
        // GET on the ingest path says what to do.
        let get = try await Application(router: Receiver.router(route, path: "/v1/audit")).test(.router) { client in
            try await client.execute(uri: "/v1/audit", method: .get)
        }
        #expect(get.status == .methodNotAllowed)
    }

    @Test func everyRefusalHasItsStatusAndReasonAndStoresNothing() async throws {
        let sink = MemorySink()
        let route = try Self.route(sink)
        let items = (0..<51).map { #"{"auditID":"m-\#($0)","stage":"ResponseComplete"}"# }.joined(separator: ",")
        let cases: [(name: String, body: [UInt8], headers: HTTPFields, status: Int, reason: String)] = [
            ("no token", Array(Self.good.utf8), Self.headers(token: nil), 401, "a bearer token is required"),
            ("wrong token", Array(Self.good.utf8), Self.headers(token: "wrong"), 401, "invalid bearer token"),
            ("cut JSON", Array(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"#.utf8), Self.headers(), 400, "byte "),
            ("not an EventList", Array(#"{"kind":"Status","apiVersion":"v1"}"#.utf8), Self.headers(), 400, "invalid EventList"),
            ("not UTF-8", Array(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"u-1","stage":"ResponseComplete","user":{"username":"a"#.utf8) + [0xff, 0xfe] + Array(#""}}]}"#.utf8),
             Self.headers(), 400, "UTF-8"),
            ("a duplicated identity member", Array(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"d-1","stage":"ResponseComplete","auditID":"d-2"}]}"#.utf8),
             Self.headers(), 400, "duplicate"),
            ("over maxBodyBytes", Array((#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"big","stage":"x","pad":""# + String(repeating: "x", count: 300_000) + "\"}]}").utf8),
             Self.headers(), 413, "maxBodyBytes"),
            ("over maxBatchEvents", Array(#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[\#(items)]}"#.utf8), Self.headers(), 413, "maxBatchEvents"),
            ("gzip over maxBodyBytes once decoded", try GzipCompressor.gzip(Array(String(repeating: " ", count: 300_000).utf8)), Self.headers(encoding: "gzip"), 413, "decompressed body"),
            ("cut gzip", Array(try GzipCompressor.gzip(Array(Self.good.utf8)).dropLast(12)), Self.headers(encoding: "gzip"), 400, "gzip"),
            ("XML", Array(Self.good.utf8), Self.headers(type: "text/xml"), 415, "Content-Type must be application/json"),
            ("brotli", Array(Self.good.utf8), Self.headers(encoding: "br"), 415, "Content-Encoding br"),
        ]
        let answers = try await Self.post(route, cases.map { ($0.body, $0.headers) })
        for (c, answer) in zip(cases, answers) {
            #expect(answer.status == c.status, "\(c.name): \(answer.text)")
            #expect(answer.text.contains(c.reason), "\(c.name): \(answer.text)")
            #expect(answer.text.hasPrefix(#"{"error":"#) && answer.text.split(separator: "\n").count == 1, "\(c.name): one JSON line")
            #expect(answer.retryAfter == nil, "\(c.name)")
        }
        #expect(sink.events == 0)
    }

    @Test func whatTheReceiverCannotTakeNowIs503WithRetryAfter() async throws {
        // Storage that cannot write: never acknowledged.
        let failing = try await Self.post(try Self.route(MemorySink(failing: true)), Self.good)
        #expect(failing.status == 503 && failing.retryAfter == "1" && failing.text.contains("storage unavailable"), "\(failing.text)")
        // The memory budget taken by other batches.
        let tight = try await Self.post(try Self.route(MemorySink()) { $0.maxInflightBytes = 64 }, Self.good)
        #expect(tight.status == 503 && tight.retryAfter == "1" && tight.text.contains("maxInflightBytes"), "\(tight.text)")
        // A body to spool where no spool file can be made.
        let spool = try await Self.post(try Self.route(MemorySink()) { $0.spoolThresholdBytes = 16; $0.dataDir = "/proc/auditseal-none" }, Self.good)
        #expect(spool.status == 503 && spool.retryAfter == "1" && spool.text.contains("spool"), "\(spool.text)")
    }

    @Test func aBodyThatStopsArrivingIs408() async throws {
        let sink = MemorySink()
        let route = try Self.route(sink) { $0.bodyTimeoutSeconds = 0.2 }
        // Headers say 1000 bytes; 10 come and then nothing (the stream is never finished).
        let (body, source) = RequestBody.makeStream()
        var headers = Self.headers()
        headers[.contentLength] = "1000"
        let request = Request(head: .init(method: .post, scheme: "http", authority: "localhost", path: "/v1/audit", headerFields: headers), body: body)
        await source.yield(ByteBuffer(string: #"{"kind":"Ev"#))
        let response = await route.handle(request, context: ReceiverContext(source: .init(channel: NIOAsyncTestingChannel(), logger: Logger(label: "test"))))
        #expect(response.status.code == 408)
        source.finish()
        #expect(sink.events == 0)
    }

    @Test func aClientCertificateOutsideTheAllowedNamesIs403() async throws {
        let sink = MemorySink()
        let route = try Self.route(sink) { $0.clientCA = "ca.pem"; $0.allowedClientCNs = ["kube-apiserver"] }
        func answer(_ cn: String?, token: String? = nil) async -> Int {
            var context = ReceiverContext(source: .init(channel: NIOAsyncTestingChannel(), logger: Logger(label: "test")))
            context.clientIdentity = { () async -> String?? in cn == nil ? nil : .some(cn) }  // nil: no certificate
            let (body, source) = RequestBody.makeStream()
            await source.yield(ByteBuffer(string: Self.good))
            source.finish()
            let request = Request(head: .init(method: .post, scheme: "https", authority: "localhost", path: "/v1/audit",
                                              headerFields: Self.headers(token: token)), body: body)
            return Int(await route.handle(request, context: context).status.code)
        }
        #expect(await answer("kube-apiserver") == 200)
        #expect(await answer("intruder") == 403)
        #expect(await answer(nil) == 401)  // no certificate
        #expect(await answer("intruder", token: Self.token) == 200)  // either credential suffices
        #expect(sink.events == 2)
    }
}
