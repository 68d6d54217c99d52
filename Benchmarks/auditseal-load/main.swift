// auditseal-load: posts realistic 400-event EventLists over keep-alive HTTP/1.1 connections, as
// fast as the server answers or at a fixed event rate, and reports throughput, latency percentiles
// and (with --pid) the server's CPU use from /proc.
//
//   auditseal-load --url http://127.0.0.1:8080/v1/audit --template eventlist.json
//                  [--connections 8] [--seconds 20] [--rate EVENTS_PER_S] [--pid PID]
//                  [--events TOTAL] [--content-type TYPE] [--header "Name: value"] [--events-per-body N]
//
// --events stops after that many events (a backlog of a known size); a template without "@@"
// marks (a forwarding sink's captured body: HEC, bulk, OTLP protobuf) is sent as it is, counted as
// --events-per-body events. Any 2xx answer counts as accepted (Fluent Bit's inputs answer 201).
//
// The template's "@@" marks (one per auditID) are replaced by a fixed-width token that is rewritten
// in place before every request, so every event is new (none is dropped as a duplicate) and
// building a body costs a few hundred 16-byte copies instead of a new 500 KB string.
// One thread per connection, blocking sockets: the generator stays far below one core.
import Foundation

struct Options {
    var host = "127.0.0.1"
    var port: UInt16 = 8080
    var path = "/v1/audit?timeout=30s"
    var template = "eventlist.json"
    var connections = 8
    var seconds = 20.0
    var rate: Double?
    var pid: Int32?
    var totalEvents: Int?
    var contentType = "application/json"
    var headers = [String]()
    var eventsPerBody: Int?

    init(_ arguments: [String]) {
        var i = 1
        func value() -> String {
            i += 1
            guard i < arguments.count else { fail("\(arguments[i - 1]) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--url":
                let url = value()
                guard let u = URLComponents(string: url), u.scheme == "http", let h = u.host else { fail("--url must be http://HOST:PORT/PATH") }
                host = h
                port = UInt16(u.port ?? 80)
                path = (u.percentEncodedPath.isEmpty ? "/" : u.percentEncodedPath) + (u.percentEncodedQuery.map { "?" + $0 } ?? "")
            case "--template": template = value()
            case "--connections": connections = Int(value()) ?? connections
            case "--seconds": seconds = Double(value()) ?? seconds
            case "--rate": rate = Double(value())
            case "--pid": pid = Int32(value())
            case "--events": totalEvents = Int(value())
            case "--content-type": contentType = value()
            case "--header": headers.append(value())
            case "--events-per-body": eventsPerBody = Int(value())
            case "--help", "-h":
                print("usage: auditseal-load --url http://HOST:PORT/PATH --template FILE [--connections N] [--seconds S] [--rate EVENTS_PER_S] [--pid PID]")
                exit(0)
            default: fail("unknown argument \(arguments[i])")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("auditseal-load: \(message)\n".utf8))
    exit(2)
}

/// One request body with its token positions; `stamp` rewrites every token to a new value.
struct Body {
    static let tokenWidth = 16
    var bytes: [UInt8]
    var tokenOffsets: [Int]
    var eventsPerBody: Int { tokenOffsets.count }

    init(template: [UInt8]) {
        var out = [UInt8]()
        out.reserveCapacity(template.count + 1024 * Self.tokenWidth)
        var offsets = [Int]()
        var i = 0
        while i < template.count {
            if template[i] == UInt8(ascii: "@"), i + 1 < template.count, template[i + 1] == UInt8(ascii: "@") {
                offsets.append(out.count)
                out.append(contentsOf: [UInt8](repeating: UInt8(ascii: "0"), count: Self.tokenWidth))
                i += 2
            } else {
                out.append(template[i])
                i += 1
            }
        }
        bytes = out
        tokenOffsets = offsets
    }

    /// Writes `value` (hex, fixed width) into every token.
    mutating func stamp(_ value: UInt64) {
        var token = [UInt8](repeating: 0, count: Self.tokenWidth)
        var v = value
        for k in (0..<Self.tokenWidth).reversed() {
            token[k] = Array("0123456789abcdef".utf8)[Int(v & 15)]
            v >>= 4
        }
        bytes.withUnsafeMutableBytes { out in
            token.withUnsafeBytes { t in
                for offset in tokenOffsets { (out.baseAddress! + offset).copyMemory(from: t.baseAddress!, byteCount: Self.tokenWidth) }
            }
        }
    }
}

/// A blocking keep-alive HTTP/1.1 connection.
final class Connection {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)

    init(host: String, port: UInt16) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { fail("--url host must be an IPv4 address") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { fail("cannot connect to \(host):\(port): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    /// Whether the server said it closes the connection after its last answer.
    private(set) var closing = false

    /// Sends head + body; returns the status code of the answer (its body is read and dropped).
    func post(head: [UInt8], body: [UInt8]) -> Int {
        head.withUnsafeBytes { h in
            body.withUnsafeBytes { b in
                var vectors = [iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress!), iov_len: h.count),
                               iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress!), iov_len: b.count)]
                var first = 0
                while first < vectors.count {
                    let n = vectors.withUnsafeBufferPointer { writev(fd, $0.baseAddress! + first, Int32($0.count - first)) }
                    if n < 0 { if errno == EINTR { continue }; fail("write: \(String(cString: strerror(errno)))") }
                    var left = n
                    while left > 0 {
                        if left >= vectors[first].iov_len { left -= vectors[first].iov_len; first += 1 }
                        else { vectors[first].iov_base += left; vectors[first].iov_len -= left; left = 0 }
                    }
                }
            }
        }
        return readResponse()
    }

    private func readResponse() -> Int {
        var received = [UInt8]()
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; fail("read: \(String(cString: strerror(errno)))") }
            if n == 0 { fail("the server closed the connection") }
            received.append(contentsOf: buffer[0..<n])
            guard let end = Self.headEnd(received) else { continue }
            let head = String(decoding: received[0..<end], as: UTF8.self).lowercased()
            let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
            let length = head.components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            closing = head.contains("\r\nconnection: close")
            while received.count < end + 4 + length {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n <= 0 { fail("the server closed the connection mid-answer") }
                received.append(contentsOf: buffer[0..<n])
            }
            return status
        }
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
        return nil
    }
}

/// CPU seconds (user + system) of a process so far.
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

let options = Options(CommandLine.arguments)
guard let template = FileManager.default.contents(atPath: options.template) else { fail("cannot read \(options.template)") }
let prototype = Body(template: Array(template))
let counted = options.eventsPerBody ?? prototype.eventsPerBody
guard counted > 0 else { fail("the template has no @@ marks (give --events-per-body for a body sent as it is)") }
let extraHeaders = options.headers.map { $0 + "\r\n" }.joined()
let head = Array("POST \(options.path) HTTP/1.1\r\nHost: \(options.host)\r\nContent-Type: \(options.contentType)\r\n\(extraHeaders)Content-Length: \(prototype.bytes.count)\r\n\r\n".utf8)

/// Per-thread results, merged at the end.
final class Results: @unchecked Sendable {
    let lock = NSLock()
    var latencies = [Double]()
    var failures = [Int: Int]()
    func add(_ l: [Double], _ f: [Int: Int]) {
        lock.lock(); latencies += l; failures.merge(f, uniquingKeysWith: +); lock.unlock()
    }
}
let results = Results()
// Token: 16 bits of the pid, 16 of the start time, 8 of the connection, 24 of the request counter,
// in separate bit ranges (an earlier layout OR-ed the connection into the time's bits, so on some
// days all connections sent the same auditIDs and half the events were dropped as duplicates).
let runID = UInt64(UInt16(truncatingIfNeeded: getpid())) << 48 | UInt64(UInt16(truncatingIfNeeded: time(nil))) << 32
let connections = options.rate == nil ? options.connections : 1
let interval = options.rate.map { Double(counted) / $0 }
// --events: each connection sends its share of the requests.
let requestsPerConnection = options.totalEvents.map { ($0 + counted * connections - 1) / (counted * connections) }
let startCPU = options.pid.flatMap(cpuSeconds)
let start = now()
let deadline = start + options.seconds
let done = DispatchGroup()
for c in 0..<connections {
    done.enter()
    let thread = Thread {
        var body = prototype
        var connection = Connection(host: options.host, port: options.port)
        var latencies = [Double]()
        var failures = [Int: Int]()
        var n: UInt64 = 0
        var nextAt = now()
        while requestsPerConnection.map({ n < UInt64($0) }) ?? (now() < deadline) {
            n += 1
            body.stamp(runID | UInt64(UInt8(truncatingIfNeeded: c)) << 24 | (n & 0xFF_FFFF))
            let t0 = now()
            let status = connection.post(head: head, body: body.bytes)
            latencies.append(now() - t0)
            if !(200..<300).contains(status) { failures[status, default: 0] += 1 }
            if connection.closing { connection = Connection(host: options.host, port: options.port) }
            if let interval {
                nextAt += interval
                let delay = nextAt - now()
                if delay > 0 { usleep(useconds_t(delay * 1e6)) }
            }
        }
        results.add(latencies, failures)
        done.leave()
    }
    thread.start()
}
done.wait()
let elapsed = now() - start
let cpu = options.pid.flatMap(cpuSeconds).flatMap { end in startCPU.map { end - $0 } }
let sorted = results.latencies.sorted()
func percentile(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] * 1000 }
let requests = Double(sorted.count)
print(String(format: "requests: %.0f in %.1f s = %.1f/s; events/s: %.0f; body %d bytes, %d events",
             requests, elapsed, requests / elapsed, requests * Double(counted) / elapsed,
             prototype.bytes.count, counted))
print(String(format: "latency ms: p50 %.2f, p99 %.2f, max %.2f", percentile(0.5), percentile(0.99), (sorted.last ?? 0) * 1000))
if let cpu { print(String(format: "server CPU: %.1f%% of one core", 100 * cpu / elapsed)) }
if !results.failures.isEmpty { print("non-200 answers: \(results.failures.sorted { $0.key < $1.key })") }
exit(results.failures.isEmpty ? 0 : 1)
