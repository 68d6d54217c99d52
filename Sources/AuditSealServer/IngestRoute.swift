import AuditSealCore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// POST of an audit.k8s.io EventList: authenticate, read the body (bounded), scan, chain and
/// durably append, and only then answer 200. Every failure has its own status and one-line reason.
public struct IngestRoute: Sendable {
    let store: AuditStore
    let configuration: ServeConfiguration
    let metrics: Metrics
    let token: BearerToken?
    let logger: Logger
    let budget: MemoryBudget

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
            let batch: EventBatch
            do {
                batch = try EventScanner(mode: .eventList).scan(body)
            } catch let error as AuditSealError {
                throw Refusal(status: .badRequest, reason: "invalid EventList: \(error.reason)")
            }
            let appendStarted = ContinuousClock.now
            let result: AppendResult
            do {
                result = try await store.append(batch)
            } catch {
                logger.error("storage could not make the batch durable", metadata: ["error": "\(error)", "events": "\(batch.count)"])
                throw Refusal(status: .serviceUnavailable, reason: "storage unavailable: \(error)", retryAfter: true)
            }
            metrics.observe("auditseal_append_seconds", seconds(since: appendStarted), buckets: Self.latencyBuckets)
            metrics.increment("auditseal_events_ingested_total", by: Double(result.stored))
            metrics.increment("auditseal_bytes_ingested_total", by: Double(body.count))
            metrics.increment("auditseal_duplicates_dropped_total", by: Double(result.duplicates))
            logger.info("batch stored", metadata: ["events": "\(batch.count)", "stored": "\(result.stored)",
                                                   "duplicates": "\(result.duplicates)", "outcome": "200"])
            response = Self.json(.ok, #"{"stored":\#(result.stored),"duplicates":\#(result.duplicates)}"#, requestID: requestID)
        } catch let refusal as Refusal {
            logger.warning("batch refused", metadata: ["outcome": "\(refusal.status.code)", "reason": "\(refusal.reason)"])
            var r = Self.json(refusal.status, #"{"error":\#(Self.quoted(refusal.reason))}"#, requestID: requestID)
            if refusal.retryAfter { r.headers[.retryAfter] = "1" }
            if refusal.status == .unauthorized { r.headers[.wwwAuthenticate] = "Bearer" }
            response = r
        } catch {
            response = Self.json(.internalServerError, #"{"error":\#(Self.quoted("\(error)"))}"#, requestID: requestID)
        }
        metrics.increment("auditseal_batches_total{code=\"\(response.status.code)\"}")
        metrics.observe("auditseal_request_seconds", seconds(since: started), buckets: Self.latencyBuckets)
        return response
    }

    static let latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// Client certificate (verified by TLS against clientCA) or bearer token; either suffices when
    /// both are configured. With neither configured the listener is loopback-only (checked at start).
    private func authenticate(_ request: Request, context: ReceiverContext) async throws {
        let needsCertificate = configuration.clientCA != nil
        guard needsCertificate || token != nil else { return }
        if let token, token.accepts(authorization: request.headers[.authorization]) { return }
        if needsCertificate, let presented = await context.clientCommonName() {
            let cn = presented ?? ""
            if configuration.allowedClientCNs.isEmpty || configuration.allowedClientCNs.contains(cn) { return }
            throw Refusal(status: .forbidden, reason: "client certificate CN \"\(cn)\" is not allowed to send audit events")
        }
        if request.headers[.authorization] != nil {
            throw Refusal(status: .unauthorized, reason: "invalid bearer token")
        }
        throw Refusal(status: .unauthorized, reason: needsCertificate ? "a client certificate (or bearer token) is required" : "a bearer token is required")
    }

    /// Reads the body up to the limit and within the body timeout; decodes gzip.
    private func readBody(_ request: Request, reservation: MemoryBudget.Reservation) async throws -> [UInt8] {
        if let type = request.headers[.contentType]?.lowercased(), !type.hasPrefix("application/json") {
            throw Refusal(status: .unsupportedMediaType, reason: "Content-Type must be application/json, not \(type)")
        }
        let limit = configuration.maxBodyBytes
        let raw = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            let expected = request.headers[.contentLength].flatMap { Int($0) }.map { min($0, limit, 64 << 20) } ?? 0
            group.addTask {
                var out = [UInt8]()
                out.reserveCapacity(expected)  // one allocation instead of doubling as chunks arrive
                for try await buffer in request.body {
                    guard out.count + buffer.readableBytes <= limit else {
                        throw Refusal(status: .contentTooLarge, reason: "body is larger than maxBodyBytes (\(limit) bytes); enable --audit-webhook-truncate-enabled on the API server to cap batches at the source")
                    }
                    // Bodies are held in memory while scanned, twice over at most (input and stored
                    // lines): all requests together stay within the receiver's memory budget.
                    guard reservation.reserve(2 * buffer.readableBytes) else {
                        throw Refusal(status: .serviceUnavailable, reason: "receiver memory budget (maxInflightBytes) is exhausted by other batches; retry", retryAfter: true)
                    }
                    out.append(contentsOf: buffer.readableBytesView)
                }
                return out
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
        guard let encoding = request.headers[.contentEncoding]?.lowercased(), encoding != "identity" else { return raw }
        guard encoding == "gzip" else {
            throw Refusal(status: .unsupportedMediaType, reason: "Content-Encoding \(encoding) is not supported (use gzip or none)")
        }
        var decoded = [UInt8]()
        do {
            let d = try GzipDecompressor()
            try raw.withUnsafeBytes { try d.decompress($0) { chunk in
                guard reservation.reserve(2 * chunk.count) else {
                    throw Refusal(status: .serviceUnavailable, reason: "receiver memory budget (maxInflightBytes) is exhausted by other batches; retry", retryAfter: true)
                }
                guard decoded.count + chunk.count <= limit else {
                    throw Refusal(status: .contentTooLarge, reason: "decompressed body is larger than maxBodyBytes (\(limit) bytes)")
                }
                decoded.append(contentsOf: chunk)
            } }
            guard d.isComplete else { throw Refusal(status: .badRequest, reason: "gzip body is truncated") }
        } catch let error as AuditSealError {
            throw Refusal(status: .badRequest, reason: "invalid gzip body: \(error.reason)")
        }
        return decoded
    }

    static func json(_ status: HTTPResponse.Status, _ text: String, requestID: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.init("X-Request-Id")!] = requestID
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func quoted(_ s: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
