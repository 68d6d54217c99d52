// Appends numbered batches of synthetic audit events to a store and prints "ack N" after each
// batch is durable, so that a test can kill it at any moment and check what survived.
// Usage: auditseal-crashwriter DATA_DIR KEY_FILE FIRST_BATCH BATCH_COUNT EVENTS_PER_BATCH
import AuditSealCore
import Foundation

let args = CommandLine.arguments
guard args.count == 6, let first = Int(args[3]), let count = Int(args[4]), let perBatch = Int(args[5]) else {
    FileHandle.standardError.write(Data("usage: auditseal-crashwriter DATA_DIR KEY FIRST COUNT PER_BATCH\n".utf8))
    exit(2)
}
/// Writes a line straight to fd 1 (no buffering: a kill must not lose a printed acknowledgement).
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
var config = StoreConfiguration(dataDirectory: args[1], nodeName: "crash-node")
config.segmentMaxBytes = 48 * 1024
config.gzipLevel = 1
let store = try AuditStore(configuration: config, signingKey: try KeyFiles.loadPrivateKey(path: args[2]))
say("ready")
for batch in first..<(first + count) {
    var items = [String]()
    for e in 0..<perBatch {
        items.append(#"{"level":"Metadata","auditID":"b\#(batch)-e\#(e)","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{"username":"crash-test"},"stageTimestamp":"2026-11-25T00:00:00.000000Z","annotations":{"pad":"\#(String(repeating: "x", count: 200))"}}"#)
    }
    let body = #"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":["# + items.joined(separator: ",") + "]}"
    let scanned = try EventScanner(mode: .eventList).scan(Array(body.utf8))
    _ = try await store.append(scanned)
    say("ack \(batch)")
}
try await store.close()
say("done")
