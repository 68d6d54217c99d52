import AuditSealCore
import FoundationEssentials
import Hummingbird
import Logging
import NIOCore

/// Where the ingest route makes an accepted batch durable before it answers 200: the store
/// (`AuditStore`), or an in-memory sink in the route's in-process tests.
public protocol BatchAppending: Sendable {
    func append(_ batch: EventBatch) async throws -> AppendResult
}

extension AuditStore: BatchAppending {}

/// POST of an audit.k8s.io EventList: authenticate, read the body (bounded), scan, chain and
/// durably append, and only then answer 200. Every failure has its own status and one-line reason.
public struct IngestRoute: Sendable {
    /// Where accepted batches are made durable: the store, or an in-memory sink in tests.
    let store: any BatchAppending
    let configuration: ServeConfiguration
    let metrics: ReceiverMetrics
    let token: BearerToken?
    let logger: Logger
    let budget: MemoryBudget
    /// Large batches one at a time (see `LargeBatchLane`).
    let lane: LargeBatchLane
    /// Runs on each batch before it is appended (redaction), when configured.
    let preparer: (any BatchPreparing)?
    /// Where bodies over the spool threshold are written (DATA_DIR/spool).
    var spoolDirectory: String { StoreLayout(root: configuration.dataDir).spoolDirectory }

    /// Why a request was refused, with the status it gets.
    struct Refusal: Error {
        var status: HTTPResponse.Status
        var reason: String
        var retryAfter: Bool = false
    }

    func handle(_ request: Request, context: ReceiverContext) async -> Response {
        let started = ContinuousClock.now
        let requestID = UUID().uuidString.lowercased()
        var logger = logger
        logger[metadataKey: "request_id"] = "\(requestID)"
        let response: Response
        let reservation = MemoryBudget.Reservation(budget: budget)
        defer { reservation.release() }
        do {
            try await authenticate(request, context: context)
            let body = try await readBody(request, reservation: reservation)
            if body.isMapped { metrics.bodiesSpooled.increment() }
            let (batch, result, appendStarted) = try await lane.run(bytes: body.count) { () async throws -> (EventBatch, AppendResult, ContinuousClock.Instant) in
                let batch: EventBatch
                do {
                    // A spooled body's stored lines are spooled too: they are about as large.
                    let maxEvents = configuration.maxBatchEvents
                    let spoolDirectory = spoolDirectory
                    batch = try await lane.scan(bodyBytes: body.count) {
                        let lineSpool = try body.isMapped ? SpoolFile(directory: spoolDirectory) : nil
                        return try EventScanner(mode: .eventList).scan(body, maxEvents: maxEvents, lineSpool: lineSpool)
                    }
                } catch let error as AuditSealError {
                    switch error.code {
                    case .malformedInput: throw Refusal(status: .badRequest, reason: "invalid EventList: \(error.reason)")
                    case .tooLarge: throw Refusal(status: .contentTooLarge, reason: "\(error.reason) (maxBatchEvents); lower --audit-webhook-batch-max-size on the API server")
                    default: throw Refusal(status: .serviceUnavailable, reason: "cannot spool the body: \(error.reason)", retryAfter: true)
                    }
                }
                let appendStarted = ContinuousClock.now
                do {
                    let prepared = try await preparer?.prepare(batch) ?? batch
                    return (prepared, try await lane.append(prepared, bodyBytes: body.count, using: { try await store.append($0) }), appendStarted)
                } catch {
                    logger.error("storage could not make the batch durable", metadata: ["error": "\(error)", "events": "\(batch.count)"])
                    throw Refusal(status: .serviceUnavailable, reason: "storage unavailable: \(error)", retryAfter: true)
                }
            }
            metrics.appendSeconds.record(seconds(since: appendStarted))
            metrics.eventsIngested.increment(by: Int64(result.stored))
            metrics.bytesIngested.increment(by: Int64(body.count))
            metrics.duplicatesDropped.increment(by: Int64(result.duplicates))
            logger.info("batch stored", metadata: ["events": "\(batch.count)", "stored": "\(result.stored)",
                                                   "duplicates": "\(result.duplicates)", "outcome": "200"])
            response = Self.json(.ok, #"{"stored":\#(result.stored),"duplicates":\#(result.duplicates)}"#, requestID: requestID)
        } catch let refusal as Refusal {
            logger.warning("batch refused", metadata: ["outcome": "\(refusal.status.code)", "reason": "\(refusal.reason)"])
            var r = Self.json(refusal.status, #"{"error":\#(JSONString.quoted(refusal.reason))}"#, requestID: requestID)
            if refusal.retryAfter { r.headers[.retryAfter] = "1" }
            if refusal.status == .unauthorized { r.headers[.wwwAuthenticate] = "Bearer" }
            response = r
        } catch {
            response = Self.json(.internalServerError, #"{"error":\#(JSONString.quoted("\(error)"))}"#, requestID: requestID)
        }
        metrics.countBatch(code: response.status.code)
        metrics.requestSeconds.record(seconds(since: started))
        return response
    }


    /// Client certificate (verified by TLS against clientCA) or bearer token; either suffices when
    /// both are configured. With neither configured the listener is loopback-only (checked at start).
    private func authenticate(_ request: Request, context: ReceiverContext) async throws {
        let needsCertificate = configuration.clientCA != nil
        guard needsCertificate || token != nil else { return }
        if let token, token.accepts(authorization: request.headers[.authorization]) { return }
        if needsCertificate, let presented = await context.clientIdentity() {
            let cn = presented ?? ""
            if configuration.allowedClientCNs.isEmpty || configuration.allowedClientCNs.contains(cn) { return }
            throw Refusal(status: .forbidden, reason: "client certificate CN \"\(cn)\" is not allowed to send audit events")
        }
        if request.headers[.authorization] != nil {
            throw Refusal(status: .unauthorized, reason: "invalid bearer token")
        }
        throw Refusal(status: .unauthorized, reason: needsCertificate ? "a client certificate (or bearer token) is required" : "a bearer token is required")
    }

    /// Reads the body up to the limit and within the body timeout, in memory or spooled (see
    /// `BodyCollector`), and decodes gzip the same way.
    private func readBody(_ request: Request, reservation: MemoryBudget.Reservation) async throws -> EventBytes {
        if let type = request.headers[.contentType]?.lowercased(), !type.hasPrefix("application/json") {
            throw Refusal(status: .unsupportedMediaType, reason: "Content-Type must be application/json, not \(type)")
        }
        let encoding = request.headers[.contentEncoding]?.lowercased() ?? "identity"
        guard encoding == "identity" || encoding == "gzip" else {
            throw Refusal(status: .unsupportedMediaType, reason: "Content-Encoding \(encoding) is not supported (use gzip or none)")
        }
        let gzipped = encoding == "gzip"
        let expected = request.headers[.contentLength].flatMap { Int($0) }
        let raw = try await withThrowingTaskGroup(of: EventBytes?.self) { group in
            group.addTask {
                // A gzip body is only decoded, not split into lines: it counts once against the budget.
                let collector = try collecting(expected: expected, memoryFactor: gzipped ? 1 : 2, decoded: false, reservation: reservation)
                for try await buffer in request.body {
                    try refusing(decoded: false) { try buffer.withUnsafeReadableBytes { try collector.append($0) } }
                }
                return try refusing(decoded: false) { try collector.finish() }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(configuration.bodyTimeoutSeconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let body = first else {
                throw Refusal(status: .requestTimeout, reason: "body not received within \(configuration.bodyTimeoutSeconds)s")
            }
            return body
        }
        guard gzipped else { return raw }
        let decoded = try collecting(expected: nil, memoryFactor: 2, decoded: true, reservation: reservation)
        do {
            let d = try GzipDecompressor()
            try raw.withUnsafeBytes { try d.decompress($0) { chunk in
                try refusing(decoded: true) { try decoded.append(chunk) }
            } }
            guard d.isComplete else { throw Refusal(status: .badRequest, reason: "gzip body is truncated") }
        } catch let error as AuditSealError {
            throw Refusal(status: .badRequest, reason: "invalid gzip body: \(error.reason)")
        }
        return try refusing(decoded: true) { try decoded.finish() }
    }

    private func collecting(expected: Int?, memoryFactor: Int, decoded: Bool, reservation: MemoryBudget.Reservation) throws -> BodyCollector {
        try refusing(decoded: decoded) {
            try BodyCollector(limit: configuration.maxBodyBytes, threshold: configuration.spoolThresholdBytes,
                              spoolDirectory: spoolDirectory, reservation: reservation, memoryFactor: memoryFactor,
                              expected: expected)
        }
    }

    /// Runs body, turning a collector's failure into the answer it deserves.
    private func refusing<T>(decoded: Bool, _ body: () throws -> T) throws -> T {
        let limit = configuration.maxBodyBytes
        do {
            return try body()
        } catch BodyCollector.Failure.overLimit {
            throw decoded
                ? Refusal(status: .contentTooLarge, reason: "decompressed body is larger than maxBodyBytes (\(limit) bytes)")
                : Refusal(status: .contentTooLarge, reason: "body is larger than maxBodyBytes (\(limit) bytes); enable --audit-webhook-truncate-enabled on the API server to cap batches at the source")
        } catch BodyCollector.Failure.budgetExhausted {
            throw Refusal(status: .serviceUnavailable, reason: "receiver memory budget (maxInflightBytes) is exhausted by other batches; retry", retryAfter: true)
        } catch BodyCollector.Failure.spool(let error) {
            throw Refusal(status: .serviceUnavailable, reason: "cannot spool the body: \(error.reason)", retryAfter: true)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ text: String, requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.init("X-Request-Id")!] = requestID
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
