import ArgumentParser
import AuditSealCore
import AuditSealShipping
import FoundationEssentials
import Glibc

/// `auditseal cat`: the stored events, verified as they are read, filtered, in time order.
struct Cat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream stored events, verifying each segment before any of its events is printed; filter; print as JSON lines, a table, or kubectl commands.",
        discussion: """
            STORE is a data directory or s3://BUCKET/PREFIX (every node's chain merged in time order; --node for one). \
            Output comes only from sealed segments whose signed manifest, SHA-256, event count and hash chain check out; \
            a segment that fails stops the output with an error naming it (exit 1), unless --no-verify. Time filters skip \
            whole segments by the event times in their manifests (with 5 minutes of slack for arrival order) without \
            downloading or decompressing them. Filters combine (AND); a filter given twice matches either value. \
            Events still in the write-ahead log (at most about a minute) are not shown, not being sealed yet: \
            their number is said on stderr.
            """)

    @Argument(help: "The data directory, or s3://BUCKET/PREFIX.")
    var store: String

    @Option(name: .customLong("public-key"), help: "Trusted public key (PEM); repeatable. Without it, the store's own key copies (internal consistency only).")
    var publicKeys: [String] = []

    @Flag(help: "Print events without verifying them (said on stderr).")
    var noVerify = false

    @Option(help: "Only this node (in a bucket with several).")
    var node: String?

    @Option(name: .shortAndLong, help: "json (the stored lines, byte for byte), table, or kubectl.")
    var output: String = "json"

    @Option(help: "From this time: RFC 3339, or a duration before now (90s, 15m, 2h, 7d).") var since: String?
    @Option(help: "Until this time: RFC 3339, or a duration before now.") var until: String?
    @Option(help: "user.username or impersonatedUser.username (exact; table and kubectl output show an impersonated request as \"alice as bob\").") var user: [String] = []
    @Option(help: "One of user.groups or impersonatedUser.groups (exact).") var group: [String] = []
    @Option(help: "verb: get, list, watch, create, update, patch, delete, deletecollection.") var verb: [String] = []
    @Option(help: "objectRef.namespace.") var namespace: [String] = []
    @Option(help: "Resource, with subresource or group: pods, pods/exec, pods/*, deployments.apps.") var resource: [String] = []
    @Option(help: "objectRef.name.") var name: [String] = []
    @Option(help: "auditID.") var auditId: [String] = []
    @Option(help: "A substring of the user agent.") var userAgent: [String] = []
    @Flag(help: "Only events sent by kubectl.") var kubectl = false
    @Option(help: "Response code (403) or class (4xx).") var status: [String] = []
    @Option(help: "Stage (ResponseComplete, ResponseStarted, RequestReceived, Panic).") var stage: [String] = []
    @Option(help: "Level (Metadata, Request, RequestResponse).") var level: [String] = []

    @Flag(help: "At the end, print to stderr: events scanned, segments read, events printed, seconds to the first result and in all.")
    var stats = false

    @OptionGroup(title: "Reading from S3") var s3: S3Options

    func filter() throws -> EventFilter {
        var f = EventFilter()
        if let since { guard let d = EventFilter.time(since) else { throw ValidationError("--since: not an RFC 3339 time or a duration like 2h") }; f.since = d }
        if let until { guard let d = EventFilter.time(until) else { throw ValidationError("--until: not an RFC 3339 time or a duration like 2h") }; f.until = d }
        f.users = user; f.groups = group; f.verbs = verb; f.namespaces = namespace; f.resources = resource; f.names = name
        f.auditIDs = auditId; f.userAgents = userAgent; f.kubectl = kubectl; f.statuses = status; f.stages = stage; f.levels = level
        for s in status where !(Int(s) != nil || (s.count == 3 && s.hasSuffix("xx") && Int(s.prefix(1)) != nil)) {
            throw ValidationError("--status: \(s) is not a code (403) or a class (4xx)")
        }
        return f
    }

    func run() async throws {
        guard ["json", "table", "kubectl"].contains(output) else { throw ValidationError("--output must be json, table or kubectl") }
        let filter = try filter()
        let keys = publicKeys.isEmpty ? nil : try publicKeys.map(KeyFiles.loadPublicKey(path:))
        if noVerify { Console.standardError.write(Data("auditseal: --no-verify: events are printed WITHOUT verification\n".utf8)) }
        else if keys == nil { Console.standardError.write(Data("auditseal: no --public-key: checked against the store's own key copies (internal consistency only)\n".utf8)) }
        var streams = [EventStream]()
        var cleanup: (() async -> Void)?
        var unsealed: UInt64 = 0
        if store.hasPrefix("s3://") {
            let opened = try await BucketStores.open(store, s3: s3, node: node)
            cleanup = opened.cleanup
            for source in opened.stores {
                let segments = VerifiedSegments(source: source, trustedKeys: keys, verify: !noVerify)
                warnRefused(segments, in: source.name)
                streams.append(EventStream(name: source.name, segments: segments, filter: filter, fetch: { try await source.get($0)?.bytes }))
            }
        } else {
            guard FileIO.exists(store) else { throw ValidationError("\(store) does not exist") }
            let source = DirectorySource(root: store)
            let segments = VerifiedSegments(source: source, trustedKeys: keys, verify: !noVerify)
            warnRefused(segments, in: store)
            streams.append(EventStream(name: store, segments: segments, filter: filter, fetch: { try source.read($0) }))
            unsealed = StoreSummary.openSegment(of: source).events
        }
        for s in streams { s.parseAlways = output != "json" }
        do {
            try await emit(streams, filter: filter)
        } catch {
            await cleanup?()
            throw error
        }
        await cleanup?()
        if unsealed > 0 {
            // Never silent about what it leaves out: a live node's newest events are in the write-ahead log.
            Console.standardError.write(Data("""
                auditseal: \(unsealed) newer event(s) in the open segment (write-ahead log) not shown: not sealed yet; \
                the receiver seals them within segmentMaxAgeSeconds (60 s by default), `auditseal seal` on a stopped store now\n
                """.utf8))
        }
    }

    /// Without verification, a manifest that cannot be used leaves its segment out: said on stderr.
    func warnRefused(_ segments: VerifiedSegments, in store: String) {
        for line in segments.refused {
            Console.standardError.write(Data("auditseal: \(store): left out: \(line) (run auditseal verify)\n".utf8))
        }
    }

    /// Merges the streams to standard output.
    func emit(_ streams: [EventStream], filter: EventFilter) async throws {
        let out = OutputBuffer()
        if output == "table" { out.write(EventTable.header + "\n") }
        let progress = isatty(2) == 1
        var scanned = 0
        var printed = 0
        let started = Date()
        var firstAt: Double?
        var lastProgress = Date()
        do {
            // Merge the streams by stageTimestamp (each stream is in its chain's order).
            var heads = [(line: [UInt8], event: AuditEvent?, time: String)?]()
            for s in streams { heads.append(try await s.next()) }
            while let i = heads.indices.filter({ heads[$0] != nil }).min(by: { heads[$0]!.time < heads[$1]!.time }) {
                let head = heads[i]!
                switch output {
                case "json": out.write(head.line + [0x0a])
                case "table": out.write(EventTable.line(head.event ?? AuditEvent(line: head.line)!) + "\n")
                default: out.write(KubectlCommand.line(head.event ?? AuditEvent(line: head.line)!) + "\n")
                }
                printed += 1
                if firstAt == nil {
                    out.flush()
                    firstAt = Date().timeIntervalSince(started)
                }
                heads[i] = try await streams[i].next()
                scanned = streams.reduce(0) { $0 + $1.scanned }
                if progress && Date().timeIntervalSince(lastProgress) > 0.5 {
                    lastProgress = Date()
                    Console.standardError.write(Data("\rscanned \(scanned) events in \(streams.reduce(0) { $0 + $1.segmentsRead }) segment(s)".utf8))
                }
            }
            out.flush()
            if progress { Console.standardError.write(Data("\r\u{1b}[K".utf8)) }
            if stats {
                let total = Date().timeIntervalSince(started)
                scanned = streams.reduce(0) { $0 + $1.scanned }
                let segmentsRead = streams.reduce(0) { $0 + $1.segmentsRead }
                let segmentsAll = streams.reduce(0) { $0 + $1.segments.segments.count }
                let first = firstAt.map { $0.fixed(3) } ?? "-"
                Console.standardError.write(Data("auditseal: scanned \(scanned) events in \(segmentsRead) of \(segmentsAll) segments, printed \(printed); first result after \(first) s, done in \(total.fixed(3)) s (\(Int(Double(scanned) / max(total, 1e-9))) events/s scanned)\n".utf8))
            }
        } catch let failure as VerifiedSegments.Failure {
            out.flush()
            Console.standardError.write(Data("auditseal: verification failed, output stopped: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// One store's matching events, segment by segment (one segment in memory at a time).
final class EventStream {
    let name: String
    let segments: VerifiedSegments
    let filter: EventFilter
    /// Table and kubectl output need the parsed event.
    var parseAlways = false
    let fetch: (String) async throws -> [UInt8]?
    private var plan: [Manifest]
    private var current: VerifiedSegments.Lines?
    private var position = 0
    private(set) var scanned = 0
    private(set) var segmentsRead = 0

    init(name: String, segments: VerifiedSegments, filter: EventFilter, fetch: @escaping (String) async throws -> [UInt8]?) {
        self.name = name
        self.segments = segments
        self.filter = filter
        self.fetch = fetch
        plan = segments.plan(filter)
    }

    /// The next matching event (line, parsed event when a filter needed it, stageTimestamp).
    func next() async throws -> (line: [UInt8], event: AuditEvent?, time: String)? {
        while true {
            if let lines = current, position < lines.ranges.count {
                let range = lines.ranges[position]
                position += 1
                scanned += 1
                let (window, pass, time) = lines.data.withUnsafeBytes { p -> (Bool, Bool, String?) in
                    let line = UnsafeRawBufferPointer(rebasing: p[range])
                    guard filter.inWindow(line: line) else { return (false, false, nil) }
                    return (true, filter.mayMatch(line: line), EventTimeRange.stageTimestamp(line))
                }
                guard window && pass else { continue }
                let line = Array(lines.data[range])
                // A time window alone is decided on the raw line; JSON output then needs no parse.
                if filter.timeOnly && !parseAlways { return (line, nil, time ?? "") }
                guard let event = AuditEvent(line: line) else { continue }
                if filter.matches(event) { return (line, event, event.stageTimestamp) }
                continue
            }
            current = nil
            guard !plan.isEmpty else { return nil }
            let m = plan.removeFirst()
            if let problem = segments.problem(before: m) { throw problem }
            let file = "segments/" + (m.file ?? Manifest.stem(m.sequence) + ".jsonl.gz")
            current = try segments.open(m, gz: try await fetch(file))
            segmentsRead += 1
            position = 0
        }
    }
}

/// Stdout in 64 KiB writes.
final class OutputBuffer {
    private var buffer = [UInt8]()
    func write(_ bytes: [UInt8]) {
        buffer += bytes
        if buffer.count >= 1 << 16 { flush() }
    }
    func write(_ text: String) { write(Array(text.utf8)) }
    func flush() {
        guard !buffer.isEmpty else { return }
        Console.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
