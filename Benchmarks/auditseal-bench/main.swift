// Throughput benchmarks for the storage engine, with the machine's ceilings measured in the same
// run on the same event bytes. Run: swift run -c release auditseal-bench [--events N]
import AuditSealCore
import Foundation

let arguments = CommandLine.arguments
let totalEvents = arguments.firstIndex(of: "--events").flatMap { Int(arguments[$0 + 1]) } ?? 400_000
let gzipLevel = arguments.firstIndex(of: "--gzip-level").flatMap { Int(arguments[$0 + 1]) } ?? 1

/// A ~1.3 KB Metadata-level event item, shaped like the API server's (no kind/apiVersion).
func item(_ i: Int) -> String {
    let id = UUID().uuidString.lowercased()
    let ms = Double(i % 5000) / 1000 + 0.5
    return #"{"level":"Metadata","auditID":"\#(id)","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments/web-\#(i % 97)?timeout=30s","verb":"get","user":{"username":"system:serviceaccount:kube-system:deployment-controller","uid":"3f2a1b4c-5d6e-7f80-9a1b-2c3d4e5f6a7b","groups":["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=4f1c2d3e-5a6b-7c8d-9e0f-112233445566"]}},"sourceIPs":["10.20.30.40"],"userAgent":"kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/system:serviceaccount:kube-system:deployment-controller","objectRef":{"resource":"deployments","namespace":"prod","name":"web-\#(i % 97)","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-25T10:\#(String(format: "%02d:%02d.%06d", i / 60000 % 60, i / 1000 % 60, i * 7919 % 1000000))Z","stageTimestamp":"2026-11-25T10:\#(String(format: "%02d:%02d.%06d", i / 60000 % 60, i / 1000 % 60, (i * 7919 + 11234) % 1000000))Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:controller:deployment-controller\" of ClusterRole \"system:controller:deployment-controller\" to ServiceAccount \"deployment-controller/kube-system\"","apiserver.latency.k8s.io/etcd":"\#(ms)ms","apiserver.latency.k8s.io/total":"11.111111ms"}}"#
}

func eventList(start: Int, count: Int) -> [UInt8] {
    Array((#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["# + (start..<(start + count)).map(item).joined(separator: ",") + "]}").utf8)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func secondsAsync(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func rate(_ n: Double, _ s: Double) -> String {
    n / s >= 1e6 ? String(format: "%.2f M/s", n / s / 1e6) : String(format: "%.0f k/s", n / s / 1e3)
}

func mbps(_ bytes: Int, _ s: Double) -> String { String(format: "%.0f MB/s", Double(bytes) / s / 1e6) }

func report(_ name: String, events: Int, bytes: Int, seconds s: Double, note: String = "") {
    print(String(format: "%-34@ %12@ %10@  %@", name as NSString, rate(Double(events), s) as NSString, mbps(bytes, s) as NSString, note as NSString))
}

let batchSize = 400
if let i = arguments.firstIndex(of: "--write-eventlist") {
    // A template for the load benchmark: "@@" in each auditID is replaced per request.
    var body = eventList(start: 0, count: batchSize)
    let text = String(decoding: body, as: UTF8.self)
    var replaced = ""
    var n = 0
    for part in text.components(separatedBy: "\"auditID\":\"") {
        if n > 0 { replaced += "\"auditID\":\"@@-\(n)-" }
        replaced += part
        n += 1
    }
    body = Array(replaced.utf8)
    try Data(body).write(to: URL(fileURLWithPath: arguments[i + 1]))
    exit(0)
}
let bodies = stride(from: 0, to: totalEvents, by: batchSize).map { eventList(start: $0, count: min(batchSize, totalEvents - $0)) }
let bodyBytes = bodies.reduce(0) { $0 + $1.count }
print("auditseal-bench: \(totalEvents) events of ~\(bodyBytes / totalEvents) bytes in \(bodies.count) EventLists of \(batchSize); \(ProcessInfo.processInfo.activeProcessorCount) cores; gzip level \(gzipLevel)")
print(String(format: "%-34@ %12@ %10@  %@", "stage" as NSString, "events" as NSString, "bytes" as NSString, "note" as NSString))

// 1. Split EventLists into stored lines.
let scanner = EventScanner(mode: .eventList)
var batches = [EventBatch]()
/// The median of five timed runs (the first run also warms the allocator).
func median(_ body: () throws -> Void) rethrows -> Double {
    var times = [Double]()
    for _ in 0..<5 { times.append(try seconds(body)) }
    return times.sorted()[2]
}
// Each batch is dropped after scanning, as the receiver drops it after appending.
var scannedEvents = 0
let splitTime = try median { for body in bodies { scannedEvents += try scanner.scan(body).count } }
batches = try bodies.map(scanner.scan)
let lineBytes = batches.reduce(0) { $0 + $1.lines.count }
report("split (EventList -> lines)", events: totalEvents, bytes: bodyBytes, seconds: splitTime)
if arguments.contains("--split-only") { exit(0) }
let ceilingsOnly = arguments.contains("--ceilings-only")

// 2. Ceiling: one SHA-256 per line in a tight loop; then the real chain (leaf + chain + Merkle).
let sha = SHA256()
var sink = SHA256Digest.zero
let shaTime = median {
    for batch in batches {
        batch.lines.withUnsafeBytes { p in
            for e in batch.events { sink = sha.hash(UnsafeRawBufferPointer(rebasing: p[e.line])) }
        }
    }
}
report("ceiling: SHA-256 per line", events: totalEvents, bytes: lineBytes, seconds: shaTime)
let serialChainTime = median {
    var state = ChainState(chainID: SecureRandom.bytes(16), using: sha)
    for batch in batches {
        batch.lines.withUnsafeBytes { p in
            for e in batch.events { state.append(line: UnsafeRawBufferPointer(rebasing: p[e.line]), using: sha) }
        }
    }
}
report("chain, one thread", events: totalEvents, bytes: lineBytes, seconds: serialChainTime,
       note: String(format: "%.0f%% of the one-thread SHA-256 ceiling", shaTime / serialChainTime * 100))
// As the committer does it: leaf hashes of a batch across the cores, then links and nodes in order.
let chainTime = median {
    var state = ChainState(chainID: SecureRandom.bytes(16), using: sha)
    for batch in batches {
        batch.lines.withUnsafeBytes { p in
            let leaves = LeafHasher.leaves(of: p, ranges: batch.events.map(\.line), using: sha)
            for leaf in leaves { state.append(leaf: leaf, using: sha) }
        }
    }
}
report("chain (leaf + chain + Merkle)", events: totalEvents, bytes: lineBytes, seconds: chainTime,
       note: "leaves hashed on all cores, links and nodes in order")

// 3. Ceiling: gzip of the lines at the configured level.
var allLines = [UInt8]()
for b in batches { for e in b.events { allLines += b.lines[e.line]; allLines.append(0x0a) } }
var gzSize = 0
let gzipTime = try seconds {
    let c = try GzipCompressor(level: gzipLevel)
    try allLines.withUnsafeBytes { try c.compress($0) { gzSize += $0.count } }
    try c.finish { gzSize += $0.count }
}
report("ceiling: gzip of the lines", events: totalEvents, bytes: allLines.count, seconds: gzipTime,
       note: String(format: "ratio %.1fx", Double(allLines.count) / Double(gzSize)))
let computeCeiling = Double(totalEvents) / (gzipTime + shaTime)
print(String(format: "%-34@ %12@", "ceiling: compute (gzip + SHA-256)" as NSString, rate(Double(totalEvents), gzipTime + shaTime) as NSString))
if ceilingsOnly { exit(0) }

// 4. Durable append with group commit: 8 concurrent writers of 400-event batches, fsync before return.
let dir = NSTemporaryDirectory() + "auditseal-bench-\(UUID().uuidString.prefix(8))"
let key = try Ed25519PrivateKey.generate()
var config = StoreConfiguration(dataDirectory: dir, nodeName: "bench")
config.gzipLevel = gzipLevel
config.segmentMaxBytes = 64 << 20
config.heartbeatInterval = 3600
let store = try AuditStore(configuration: config, signingKey: key)
let writers = 8
let frozen = batches
let appendTime = try await secondsAsync {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<writers {
            group.addTask {
                for i in stride(from: w, to: frozen.count, by: writers) { _ = try await store.append(frozen[i]) }
            }
        }
        try await group.waitForAll()
    }
}
report("durable append (8 writers, fsync)", events: totalEvents, bytes: lineBytes, seconds: appendTime,
       note: String(format: "%.0f%% of the compute ceiling; sealing runs alongside", Double(totalEvents) / appendTime / computeCeiling * 100))

// 5. Sealing: everything appended is sealed now; the time to seal what the last segment holds.
let sealTime = try await secondsAsync { try await store.close() }
let status = store.status
print("  (store: \(status.nextIndex) events, \(status.segmentsSealed) segments sealed)")
// Seal throughput measured directly on one full 64 MiB write-ahead segment.
let sealDir = NSTemporaryDirectory() + "auditseal-bench-seal-\(UUID().uuidString.prefix(8))"
var sealConfig = config
sealConfig.dataDirectory = sealDir
sealConfig.segmentMaxBytes = 1 << 40
let sealStore = try AuditStore(configuration: sealConfig, signingKey: key)
var sealEvents = 0
for batch in batches where sealEvents < 48_000 {
    _ = try await sealStore.append(batch)
    sealEvents += batch.count
}
// Recovery: open a crash image of the store (a full 64 MB open segment, nothing sealed).
let image = sealDir + "-image"
try FileManager.default.copyItem(atPath: sealDir, toPath: image)
try? FileManager.default.removeItem(atPath: image + "/LOCK")
var imageConfig = sealConfig
imageConfig.dataDirectory = image
var recovered: AuditStore?
let recoveryTime = try seconds { recovered = try AuditStore(configuration: imageConfig, signingKey: key) }
report("recovery (replay open segment)", events: Int(recovered!.status.nextIndex), bytes: lineBytes * sealEvents / totalEvents, seconds: recoveryTime,
       note: String(format: "%.0f ms for a %d MB open segment", recoveryTime * 1000, lineBytes * sealEvents / totalEvents / 1_000_000))
try await recovered!.close()
try? FileManager.default.removeItem(atPath: image)
let oneSeal = try await secondsAsync { try await sealStore.sealNow() }
report("seal (gzip + hash + sign + fsync)", events: sealEvents, bytes: lineBytes * sealEvents / totalEvents, seconds: oneSeal,
       note: "one \(lineBytes * sealEvents / totalEvents / 1_000_000) MB segment")
try await sealStore.close()
_ = sealTime

// 6. Verification of the whole store (segments in parallel).
var verified: VerificationReport?
let verifyTime = seconds {
    verified = Verifier(source: DirectorySource(root: dir), options: .init(trustedKeys: [key.publicKey])).run()
}
report("verify (gunzip + hash, parallel)", events: Int(verified!.treeSize), bytes: lineBytes, seconds: verifyTime,
       note: verified!.intact ? "intact" : "NOT INTACT: \(verified!.findings.prefix(3))")
try? FileManager.default.removeItem(atPath: dir)
try? FileManager.default.removeItem(atPath: sealDir)
_ = sink
