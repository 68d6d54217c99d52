import AsyncHTTPClient
import AuditSealCore
import AuditSealYAML
import FoundationEssentials
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// One forwarding sink: follows the store's commits (`AuditStore.committedSizes`) and sends every
/// durable event from its cursor on, in chain order, at least once (docs/OPERATIONS.md
/// "Forwarding"). It reads the events from the files (sealed segments, checked against their
/// signed manifests, then the write-ahead log), so it never slows ingest, and a sink that was down
/// for a day catches up from where its cursor stands. Each batch the receiver accepts moves the
/// cursor (DATA_DIR/sinks/NAME.cursor, written atomically); a refused event (a 4xx other than
/// 408/429, found by halving the batch) goes to DATA_DIR/sinks/NAME.dead.jsonl and delivery goes
/// on; anything else is retried with backoff (1 s doubling to 60 s), forever.
public final class SinkService: Service, @unchecked Sendable {  // `reader` (a non-Sendable class) is used on `worker` alone; positions live in `position`
    public let settings: SinkSettings
    let dataDirectory: String
    let sizes: AsyncStream<UInt64>
    /// The node and chain every event's coordinates name (the index is set per event).
    let coordinates: SealCoordinates
    let logger: Logger
    let client: HTTPClient
    /// The receiver's URL (the settings', else the kubeconfig's server).
    let url: String
    /// The Authorization header's scheme and its token, or the file that holds it (read again at
    /// each request: projected tokens rotate).
    let scheme: String
    let token: String?
    let tokenFile: String?
    let filter: EventFilter
    /// Used on `worker` alone.
    let reader: StoreEventReader
    /// The sink's CPU work (reading, projecting, encoding) runs here, at the lowest priority: a
    /// sink takes only the CPU ingest leaves (docs/OPERATIONS.md "Forwarding").
    let worker: LowPriorityThread
    /// Where segments deleted here after their upload are read back (the bucket), if shipping is on.
    let fetcher: SealedFileFetcher?
    let channel = UUID().uuidString.lowercased()
    /// The next index to send and the store's durable size: written by the delivering task and
    /// by the task that follows the commits (which reports the lag while delivery waits).
    let position: Locked<(cursor: UInt64, durable: UInt64)>
    var cursor: UInt64 {
        get { position.withLock { $0.cursor } }
        set { position.withLock { $0.cursor = newValue } }
    }
    var durable: UInt64 { position.withLock { $0.durable } }
    /// The cursor last written to its file, and when.
    let saved = Locked<(cursor: UInt64, at: ContinuousClock.Instant)>((UInt64.max, .now))

    public init(settings: SinkSettings, dataDirectory: String, sizes: AsyncStream<UInt64>, node: String, chainID: String,
                fetcher: SealedFileFetcher? = nil, logger: Logger) throws {
        self.fetcher = fetcher
        self.settings = settings
        self.dataDirectory = dataDirectory
        self.sizes = sizes
        self.coordinates = SealCoordinates(node: node, chainID: chainID, index: 0)
        self.logger = logger
        filter = settings.filter
        reader = StoreEventReader(dataDirectory: dataDirectory)
        worker = LowPriorityThread(name: "auditseal-sink-" + settings.name)
        // A kubeconfig gives what the settings leave out (the API server's webhook config format).
        let kubeconfig = try settings.kubeconfig.map(Kubeconfig.load)
        url = settings.url.isEmpty ? kubeconfig?.server ?? "" : settings.url
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = settings.caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
        } else if let ca = kubeconfig?.caPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
        }
        if kubeconfig?.insecureSkipTLSVerify == true && settings.caFile == nil { tls.certificateVerification = .none }
        if let cert = settings.clientCert, let key = settings.clientKey {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        } else if let cert = kubeconfig?.clientCertificatePEM, let key = kubeconfig?.clientKeyPEM {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
        }
        client = HTTPClient(eventLoopGroupProvider: .shared(Self.eventLoops), configuration: .init(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(30))))
        switch settings.type {
        case .splunkHEC: scheme = "Splunk"
        case .elasticsearch: scheme = "ApiKey"
        case .webhook, .otlp: scheme = "Bearer"
        }
        tokenFile = settings.tokenFile ?? kubeconfig?.tokenFile
        token = settings.tokenFile == nil ? kubeconfig?.token : nil
        try FileIO.makeDirectories(Self.directory(dataDirectory))
        position = Locked((Self.loadCursor(dataDirectory, settings.name), 0))
        _ = try authorization()  // an unreadable token file is a configuration error at the start
    }

    /// The sinks' network I/O: one event-loop thread of their own at nice 19, so that sending (TLS,
    /// copying bodies) also takes only the CPU ingest leaves; never shut down (process-wide).
    static let eventLoops: MultiThreadedEventLoopGroup = {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try? group.next().submit { LowPriorityThread.lowerCurrentThread() }.wait()
        return group
    }()

    func authorization() throws -> String? {
        if let token { return scheme + " " + token }
        guard let tokenFile else { return nil }
        return scheme + " " + String(decoding: try FileIO.readAll(path: tokenFile), as: UTF8.self).trimmed
    }

    static func directory(_ dataDirectory: String) -> String { dataDirectory + "/sinks" }

    public static func loadCursor(_ dataDirectory: String, _ name: String) -> UInt64 {
        (try? StableJSON.decode(SinkCursor.self, from: FileIO.readAll(path: dataDirectory + "/" + SinkCursor.relativePath(name))))?.next ?? 0
    }

    /// Writes the cursor (atomically, fsync'd) when it moved, and while delivering at most once a
    /// second (not two fsyncs per batch). A crash then sends again what was delivered in that
    /// second, which at-least-once allows (and `_id` removes for Elasticsearch).
    func saveCursor(unlessWithinASecond: Bool) throws {
        let now = ContinuousClock.now
        let current = cursor
        let due = saved.withLock { s -> Bool in
            guard s.cursor != current, !unlessWithinASecond || now - s.at >= .seconds(1) else { return false }
            s = (current, now)
            return true
        }
        guard due else { return }
        try FileIO.writeAtomically(path: dataDirectory + "/" + SinkCursor.relativePath(settings.name),
                                   bytes: try StableJSON.encode(SinkCursor(next: current, updatedAt: Timestamp.format(Date()))))
    }

    var dimensions: [(String, String)] { [("sink", settings.name)] }

    public func run() async throws {
        logger.info("sink following the store", metadata: ["sink": "\(settings.name)", "type": "\(settings.type.rawValue)", "cursor": "\(cursor)"])
        // One task follows the commits (and reports the lag, also while a delivery waits on a
        // receiver that is down); the other delivers whenever there is more.
        let (wake, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await size in self.sizes {
                        let lag = self.position.withLock { p -> UInt64 in
                            p.durable = size
                            return size > p.cursor ? size - p.cursor : 0
                        }
                        Gauge(label: "auditseal_sink_lag_events", dimensions: self.dimensions).record(Double(lag))
                        waker.yield()
                    }
                    waker.finish()
                }
                group.addTask {
                    for await _ in wake {
                        do { try await self.drain() } catch is CancellationError { break } catch {
                            self.logger.error("sink stopped delivering", metadata: ["sink": "\(self.settings.name)", "error": "\(error)"])
                            break
                        }
                    }
                }
                // A stop (cancellation) ends both; the store's stream also ends when it closes.
                await group.next()
                group.cancelAll()
            }
        }
        try? saveCursor(unlessWithinASecond: false)  // what was delivered before the stop
        worker.close()
        try? await client.shutdown()
    }

    /// A batch made ready on `worker`: its place, the events to send and their request.
    typealias Prepared = (first: UInt64, count: Int, outgoing: [OutgoingEvent], request: Request?)
    typealias Request = (body: [UInt8], url: String, contentType: String)

    /// Sends everything from the cursor up to the durable size. The next batch is read and encoded
    /// on `worker` while the current one is on the wire.
    func drain() async throws {
        var ahead: Task<Prepared, Error>?
        defer { ahead?.cancel() }
        while cursor < durable {
            try Task.checkCancellation()
            let (from, end) = (cursor, durable)
            let batch: Prepared
            do {
                if let prepared = ahead {
                    batch = try await prepared.value
                } else {
                    batch = try await worker.run { try self.prepare(from: from, end: end) }
                }
                ahead = nil
            } catch let gone as StoreEventReader.Gone {
                ahead = nil
                try await fetchFromBucket(gone)
                continue
            }
            guard batch.count > 0 else { break }
            let next = batch.first + UInt64(batch.count)
            let nextEnd = durable
            if next < nextEnd { ahead = Task { try await self.worker.run { try self.prepare(from: next, end: nextEnd) } } }
            let outgoing = batch.outgoing
            if !outgoing.isEmpty { try await deliver(outgoing, encoded: batch.request) }
            cursor = batch.first + UInt64(batch.count)
            try saveCursor(unlessWithinASecond: true)
            let lag = durable > cursor ? durable - cursor : 0
            Gauge(label: "auditseal_sink_lag_events", dimensions: dimensions).record(Double(lag))
            if let t = outgoing.last?.stageNanos {
                Gauge(label: "auditseal_sink_lag_seconds", dimensions: dimensions).record(lag == 0 ? 0 : max(0, Date().timeIntervalSince1970 - Double(t) / 1e9))
            }
            Gauge(label: "auditseal_sink_cursor", dimensions: dimensions).record(Double(cursor))
        }
        try saveCursor(unlessWithinASecond: false)  // caught up
        Gauge(label: "auditseal_sink_lag_events", dimensions: dimensions).record(0)
        Gauge(label: "auditseal_sink_lag_seconds", dimensions: dimensions).record(0)
    }

    /// The next batch from `from` (none at or past `end`): read, selected by the filters, projected,
    /// fitted to `maxEventBytes` and encoded. Runs on `worker`, the only thread that uses `reader`.
    func prepare(from: UInt64, end: UInt64) throws -> Prepared {
        let events = try reader.read(from: from, limit: settings.batchEvents, end: end)
        var outgoing = [OutgoingEvent]()
        outgoing.reserveCapacity(events.lines.count)
        for (offset, line) in events.lines.enumerated() {
            let index = events.first + UInt64(offset)
            // Only a sink with filters parses the event into values.
            if !filter.timeOnly { guard let event = AuditEvent(line: line), filter.matches(event) else { continue } }
            var place = coordinates
            place.index = index
            guard let e = OutgoingEvent(index: index, line: line, coordinates: place, dropping: settings.drop, summarize: settings.type == .otlp) else { continue }
            outgoing.append(e)
        }
        let fitted = try fitToSize(outgoing)
        return (events.first, events.lines.count, fitted, fitted.isEmpty ? nil : try encode(fitted))
    }

    /// Events local retention deleted after their upload are read from the bucket (checked against
    /// the local signed manifest). Never skipped silently: without a bucket, or while it does not
    /// answer, the gap is reported (`auditseal_sink_gap_events`, the log) and tried again with
    /// backoff up to 5 minutes.
    func fetchFromBucket(_ gone: StoreEventReader.Gone) async throws {
        var delay = 5.0
        while true {
            try Task.checkCancellation()
            var why = "no bucket is configured (shipping) to read it from"
            if let fetcher {
                do {
                    if let gz = try await fetcher.fetch(gone.file) {
                        try await worker.run { try self.reader.supply(gone, gz: gz) }
                        Counter(label: "auditseal_sink_bucket_reads_total", dimensions: dimensions).increment()
                        logger.info("sink reads a segment from the bucket", metadata: ["sink": "\(settings.name)", "file": "\(gone.file)", "from": "\(fetcher.name)"])
                        Gauge(label: "auditseal_sink_gap_events", dimensions: dimensions).record(0)
                        return
                    }
                    why = "\(gone.file) is not in \(fetcher.name)"
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    why = "reading \(gone.file) from \(fetcher.name): \(error)"
                }
            }
            logger.error("sink cannot read its next events", metadata: ["sink": "\(settings.name)", "gap": "\(gone)", "why": "\(why)", "retry in": "\(delay)s"])
            Gauge(label: "auditseal_sink_gap_events", dimensions: dimensions).record(Double(gone.last - gone.first + 1))
            try await Task.sleep(for: .seconds(delay))  // backoff between attempts, not a synchronization
            delay = min(300, delay * 2)
        }
    }

    /// `maxEventBytes`: a larger event is cut to its metadata (request and response objects
    /// dropped, counted), and dead-lettered if still too large.
    func fitToSize(_ events: [OutgoingEvent]) throws -> [OutgoingEvent] {
        guard let limit = settings.maxEventBytes else { return events }
        var out = [OutgoingEvent]()
        for var e in events {
            if try SinkEncoder.withCoordinates(e).count > limit {
                try e.trim(["requestObject", "responseObject"])
                Counter(label: "auditseal_sink_trimmed_total", dimensions: dimensions).increment()
                if try SinkEncoder.withCoordinates(e).count > limit {
                    try deadLetter(e, status: 0, reason: "larger than maxEventBytes (\(limit)) even without its objects")
                    continue
                }
            }
            out.append(e)
        }
        return out
    }

    /// What a receiver's answer means for the batch.
    enum Outcome {
        case delivered
        /// Refused for good (a 4xx other than 408/429, or an item the bulk API refused).
        case refused(status: Int, reason: String, indexes: Set<UInt64>?)
        case retry(String)
    }

    /// Sends a batch until the receiver takes it; refused events are found by halving and dead-lettered.
    func deliver(_ events: [OutgoingEvent], encoded: Request? = nil) async throws {
        var delay = 1.0
        while true {
            try Task.checkCancellation()
            switch await send(events, encoded: encoded) {
            case .delivered:
                Counter(label: "auditseal_sink_delivered_total", dimensions: dimensions).increment(by: events.count)
                return
            case .refused(let status, let reason, let indexes):
                if let indexes {  // the bulk API names the refused items: the others were taken
                    for e in events where indexes.contains(e.index) { try deadLetter(e, status: status, reason: reason) }
                    Counter(label: "auditseal_sink_delivered_total", dimensions: dimensions).increment(by: events.count - indexes.count)
                    return
                }
                if events.count == 1 {
                    try deadLetter(events[0], status: status, reason: reason)
                    return
                }
                let half = events.count / 2
                try await deliver(Array(events[..<half]))
                try await deliver(Array(events[half...]))
                return
            case .retry(let why):
                Counter(label: "auditseal_sink_retries_total", dimensions: dimensions).increment()
                logger.warning("sink delivery failed; retrying", metadata: ["sink": "\(settings.name)", "in": "\(delay)s", "why": "\(why)"])
                try await Task.sleep(for: .seconds(delay))  // backoff between retries, not a synchronization
                delay = min(60, delay * 2)
            }
        }
    }

    func send(_ events: [OutgoingEvent], encoded: Request?) async -> Outcome {
        do {
            var ready = encoded
            if ready == nil { ready = try await worker.run { try self.encode(events) } }
            let (body, url, contentType) = ready!
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType)
            if let authorization = try authorization() { request.headers.add(name: "Authorization", value: authorization) }
            if settings.type == .splunkHEC { request.headers.add(name: "X-Splunk-Request-Channel", value: channel) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .seconds(30))
            let answer = try await response.body.collect(upTo: 16 << 20)
            let status = Int(response.status.code)
            switch status {
            case 200..<300:
                if settings.type == .elasticsearch { return Self.bulkOutcome(Array(answer.readableBytesView), events) }
                if settings.indexerAck { return try await awaitAcknowledgement(Array(answer.readableBytesView)) }
                return .delivered
            case 408, 429, 500...: return .retry("HTTP \(status)")
            default: return .refused(status: status, reason: String(decoding: answer.readableBytesView.prefix(300), as: UTF8.self), indexes: nil)
            }
        } catch {
            return .retry("\(error)")
        }
    }

    /// The request body, URL and content type of a batch (on `worker`).
    func encode(_ events: [OutgoingEvent]) throws -> Request {
        switch settings.type {
        case .webhook: return (try SinkEncoder.webhook(events), url, "application/json")
        case .splunkHEC: return (try SinkEncoder.splunk(events, sourcetype: settings.sourcetype, index: settings.index), url, "application/json")
        case .elasticsearch:
            return (try SinkEncoder.elasticsearch(events, prefix: settings.index ?? "auditseal"),
                    url.hasSuffix("/_bulk") ? url : url + (url.hasSuffix("/") ? "_bulk" : "/_bulk"), "application/x-ndjson")
        case .otlp:
            if settings.encoding == .json { return (try SinkEncoder.otlpJSON(events), url, "application/json") }
            return (try SinkEncoder.otlpProtobuf(events), url, "application/x-protobuf")
        }
    }

    /// HEC with indexer acknowledgement: the answer names an `ackId`; the channel's
    /// /services/collector/ack says when the indexer has it (`{"acks":{"ID":true}}`). Asked at
    /// 0.5 s doubling to 5 s, up to `ackTimeoutSeconds`; a batch not acknowledged by then is sent
    /// again (HEC has no idempotency key: a receiver that lost the ack sees the batch twice).
    func awaitAcknowledgement(_ answer: [UInt8]) async throws -> Outcome {
        guard let ackID = (try? JSONValue.parse(answer))?["ackId"]?.int else {
            return .retry("indexerAck is on but the collector's answer has no ackId (is acknowledgement enabled for this token?)")
        }
        let base = url.firstRange(of: "/services/collector").map { String(url[..<$0.upperBound]) } ?? url
        let deadline = ContinuousClock.now + .seconds(settings.ackTimeoutSeconds)
        var delay = 0.5
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .seconds(delay))  // the protocol's polling interval, not a synchronization
            delay = min(5, delay * 2)
            var request = HTTPClientRequest(url: base + "/ack")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Splunk-Request-Channel", value: channel)
            if let authorization = try authorization() { request.headers.add(name: "Authorization", value: authorization) }
            request.body = .bytes(ByteBuffer(bytes: try JSONValue.object(["acks": [.int(Int64(ackID))]]).bytes()))
            let response = try await client.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 200 else { continue }
            if (try? JSONValue.parse(body.readableBytesView))?["acks"]?[String(ackID)] == .bool(true) { return .delivered }
        }
        Counter(label: "auditseal_sink_unacknowledged_total", dimensions: dimensions).increment()
        return .retry("ackId \(ackID) not acknowledged within \(settings.ackTimeoutSeconds)s")
    }

    /// The bulk API answers 200 with a result per item: 201 created, 409 already there (a batch
    /// sent again: delivered), 429/5xx retried, other 4xx refused for good.
    static func bulkOutcome(_ answer: [UInt8], _ events: [OutgoingEvent]) -> Outcome {
        guard let object = try? JSONValue.parse(answer) else { return .retry("bulk answer is not JSON") }
        guard object["errors"] == .bool(true), let items = object["items"]?.array else { return .delivered }
        var refused = Set<UInt64>()
        var reason = ""
        for (i, item) in items.enumerated() where i < events.count {
            guard let result = item.object?.values.first, let status = result["status"]?.int else { continue }
            if status == 409 || (200..<300).contains(status) { continue }
            if status == 429 || status >= 500 { return .retry("bulk item \(status)") }
            refused.insert(events[i].index)
            reason = result["error"].map { String(decoding: (try? $0.bytes()) ?? [], as: UTF8.self) } ?? "\(status)"
        }
        return refused.isEmpty ? .delivered : .refused(status: 400, reason: String(reason.prefix(300)), indexes: refused)
    }

    /// One line of DATA_DIR/sinks/NAME.dead.jsonl: the event's index and the refusal (the event
    /// itself is in the store: `auditseal cat` or `prove --index` read it).
    func deadLetter(_ e: OutgoingEvent, status: Int, reason: String) throws {
        let line = try JSONValue.object(["index": .int(Int64(e.index)), "status": .int(Int64(status)), "reason": .string(reason),
                                         "auditID": .string(e.auditID ?? ""), "at": .string(Timestamp.format(Date()))]).bytes() + [0x0a]
        let path = dataDirectory + "/" + SinkCursor.deadLettersPath(settings.name)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw AuditSealError.io("cannot open \(path)", errno: errno) }
        defer { close(fd) }
        try line.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: path) }
        try FileIO.sync(fd: fd, path: path)
        Counter(label: "auditseal_sink_dead_lettered_total", dimensions: dimensions).increment()
        logger.error("sink refused an event for good; dead-lettered", metadata: ["sink": "\(settings.name)", "index": "\(e.index)", "status": "\(status)", "reason": "\(reason)"])
    }
}
