import AuditSealCore
import Foundation

/// The daemon's start over a hostile data directory: recovery (docs/FORMAT.md §4) after a power
/// cut, with one file of the directory replaced by the input. The first byte picks the file
/// (`first % files`: a file of a store with two sealed segments and an open write-ahead segment of
/// 5 events, or a second write-ahead segment after it) and whether a replaced write-ahead file is
/// resealed (`first / files % 2`: header CRC and record check values recomputed). Opening either
/// refuses with an error or recovers; a recovered store is closed (which seals what it recovered).
/// Differential: when the input was a write-ahead file and the store opened and closed, verify
/// calls the store intact: recovery keeps only records that continue the chain.
extension FuzzTargets {
    static func recovery(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let files = recoveryFiles
        let file = files[Int(first) % files.count]
        var content = Array(bytes.dropFirst())
        if Int(first) / files.count % 2 == 1 && file.hasSuffix(".wal") { content = Resealing.writeAhead(content) }
        let dir = scratch + "/recovery"
        try? FileManager.default.removeItem(atPath: dir)
        var tree = recoveryTemplate.files
        tree[file] = content
        for (name, data) in tree {
            try? FileIO.makeDirectories(dir + "/" + ((name as NSString).deletingLastPathComponent))
            FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(data))
        }
        guard let store = try? AuditStore(configuration: recoveryConfiguration(dir), signingKey: key) else { return }
        let closed = ClosedFlag()
        let semaphore = DispatchSemaphore(value: 0)
        Task.detached {
            closed.value = (try? await store.close()) != nil
            semaphore.signal()
        }
        semaphore.wait()
        guard closed.value, file.hasPrefix("wal/") else { return }
        var options = Verifier.Options(trustedKeys: [key.publicKey])
        options.checkTail = false
        options.parallelism = 1
        let report = Verifier(source: DirectorySource(root: dir), options: options).run()
        if !report.intact {
            fatalError("recovery took \(file) and left a store verify calls broken: \(report.findings.filter { $0.severity == .error }.prefix(3))")
        }
    }

    final class ClosedFlag: @unchecked Sendable { var value = false }

    static func recoveryConfiguration(_ dir: String) -> StoreConfiguration {
        var config = StoreConfiguration(dataDirectory: dir, nodeName: "fuzz")
        config.segmentMaxBytes = 1 << 30
        config.segmentMaxAge = 86_400
        config.heartbeatInterval = 86_400
        return config
    }

    /// The template: two sealed segments of 10 events and 5 events only in the write-ahead log,
    /// copied while the store is open (as a power cut leaves it: every acknowledged write fsync'd).
    static let recoveryTemplate: MemorySource = {
        let dir = scratch + "/recovery-template"
        let semaphore = DispatchSemaphore(value: 0)
        let copy = TemplateBox()
        Task.detached {
            let s = try! AuditStore(configuration: recoveryConfiguration(dir), signingKey: key)
            for b in 0..<3 {
                let text = (0..<(b == 2 ? 5 : 10)).map { #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"r\#(b)-\#($0)","stage":"ResponseComplete","verb":"delete"}"# }.joined(separator: "\n")
                _ = try! await s.append(try! EventScanner(mode: .stream).scan(Array(text.utf8)))
                if b < 2 { try! await s.sealNow() }
            }
            copy.source = MemorySource(loading: dir)
            try! await s.close()
            semaphore.signal()
        }
        semaphore.wait()
        return copy.source!
    }()

    final class TemplateBox: @unchecked Sendable { var source: MemorySource? }

    /// The template's files and a second write-ahead segment after its open one.
    static let recoveryFiles: [String] = {
        recoveryTemplate.files.keys.sorted() + ["wal/" + String(repeating: "0", count: 18) + "25.wal"]
    }()

    /// Seeds: every template file as it is, write-ahead files also in the resealed mode, and a
    /// second write-ahead segment that repeats the open one's header (the first then ends where
    /// it starts: its records are a failed write's tail, and the second holds the chain).
    static func recoverySeeds(_ put: (String, [UInt8]) -> Void) {
        let files = recoveryFiles
        for (i, name) in files.enumerated() {
            guard let bytes = recoveryTemplate.files[name] else { continue }
            let label = name.replacingOccurrences(of: "/", with: "_")
            put(label, [UInt8(i)] + bytes)
            if name.hasSuffix(".wal") { put(label + ".resealed", [UInt8(i + files.count)] + bytes) }
        }
        if let extra = files.firstIndex(where: { $0.hasSuffix("25.wal") }),
           let open = recoveryTemplate.files.first(where: { $0.key.hasPrefix("wal/") && $0.key.hasSuffix(".wal") })?.value {
            put("second-wal-repeating-the-first", [UInt8(extra)] + open)
        }
    }
}
