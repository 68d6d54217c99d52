import AuditSealCore
import AuditSealReconcile
import AuditSealServer
import AuditSealShipping
import Foundation

/// libFuzzer targets over everything auditseal parses from outside (docs: scripts/fuzz.sh).
/// `AUDITSEAL_FUZZ_TARGET` picks one: scanner, wal, manifest, note, proof, verifier, config, s3xml,
/// reconcile, recovery, redactor.
/// Built normally, the same binary replays files through a target (`auditseal-fuzz TARGET FILE...`):
/// the tests run the seed corpus that way.
enum FuzzTargets {
    static let key = try! Ed25519PrivateKey(seed: [UInt8](repeating: 7, count: 32))

    /// The target libFuzzer drives, read once: Foundation builds the whole environment dictionary
    /// on every `ProcessInfo.environment` read.
    static let selected = ProcessInfo.processInfo.environment["AUDITSEAL_FUZZ_TARGET"] ?? "scanner"

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "scanner": scanner(bytes)
        case "wal": wal(bytes)
        case "manifest": manifest(bytes)
        case "note": note(bytes)
        case "proof": proof(bytes)
        case "verifier": verifier(bytes)
        case "config": config(bytes)
        case "s3xml": s3xml(bytes)
        case "reconcile": reconcile(bytes)
        case "recovery": recovery(bytes)
        case "redactor": RedactorTarget.run(bytes)
        default: fatalError("unknown fuzz target \(target): scanner, wal, manifest, note, proof, verifier, config, s3xml, reconcile, recovery, redactor")
        }
    }

    /// The EventList and stream scanner. Differential: whatever it accepts, Foundation's JSON
    /// parser must accept too, line by line, with the same auditID (stored lines are JSON).
    static func scanner(_ bytes: [UInt8]) {
        for mode in [EventScanner.Mode.eventList, .stream] {
            guard let batch = try? EventScanner(mode: mode).scan(bytes) else { continue }
            for i in 0..<batch.count {
                let line = batch.line(i)
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    fatalError("stored line \(i) is not JSON: \(String(decoding: line, as: UTF8.self).prefix(200))")
                }
                guard object["auditID"] as? String == batch.auditID(i), object["stage"] as? String == batch.stage(i) else {
                    fatalError("stored line \(i) disagrees with the scanner on auditID/stage")
                }
                guard !line.contains(0x0a) else { fatalError("stored line \(i) holds a newline") }
            }
        }
    }

    /// The receiver's YAML config loader and its checks: a bad file is an error naming the field.
    static func config(_ bytes: [UInt8]) {
        guard let c = try? ServeConfiguration.load(yaml: String(decoding: bytes, as: UTF8.self), source: "fuzz.yaml") else { return }
        _ = try? c.validate()
    }

    /// The S3 answer reader (bucket listings, errors, Object Lock configuration): the elements it
    /// returns lie within the input, and decoding entities never grows the text.
    static func s3xml(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        for name in ["Version", "DeleteMarker", "Contents", "Key", "VersionId", "Error", "Code"] {
            for block in S3XML.blocks(name, in: text[...]) {
                guard block.startIndex >= text.startIndex && block.endIndex <= text.endIndex else { fatalError("block outside the input") }
                if let v = S3XML.value("Key", in: block), v.utf8.count > block.utf8.count { fatalError("decoded value longer than its element") }
            }
        }
    }

    /// Reconciliation's inputs from outside: an API server's /metrics text, a completeness report
    /// read back from a store or bucket, and audit-log lines.
    static func reconcile(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let counters = SourceCounters(prometheusText: text)
        _ = counters.change(since: SourceCounters(events: 5, errors: ["buffered": 3], processStart: 1))
        _ = SourceCounters().change(since: counters)
        if let report = try? StableJSON.decode(CompletenessReport.self, from: bytes) { _ = report.summaryLines }
        for line in bytes.split(separator: 0x0a) {
            _ = try? EventScanner(mode: .stream).scan(Array(line))
        }
    }

    /// Write-ahead recovery: any file content reads (or fails) cleanly, as it is and resealed (its
    /// header CRC and record check values recomputed, as a crafted file carries them).
    static func wal(_ bytes: [UInt8]) {
        let path = scratch + "/fuzz.wal"
        try? FileIO.writeAtomically(path: path, bytes: bytes)
        let raw = try? WriteAheadReader(path: path).read { _, _, _ in }
        try? FileIO.writeAtomically(path: path, bytes: Resealing.writeAhead(bytes))
        let resealed = try? WriteAheadReader(path: path).read { _, _, _ in }
        // The harness's own check: resealed, no record fails its check value, and a file that read
        // cleanly as it was reads the same.
        if case .checksumMismatch = resealed?.damage { fatalError("a resealed record failed its check value") }
        if let raw, raw.damage == nil, resealed?.recordCount != raw.recordCount || resealed?.damage != nil {
            fatalError("resealing changed a clean write-ahead file")
        }
    }

    /// Manifests: decoding and the structural rules.
    static func manifest(_ bytes: [UInt8]) {
        guard let m = try? StableJSON.decode(Manifest.self, from: bytes) else { return }
        _ = m.structuralProblem(fileSequence: max(1, m.sequence))
    }

    /// Signed notes, checkpoints, cosignatures and add-checkpoint bodies.
    static func note(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? Checkpoint.open(note: text, keys: [key.publicKey])
        if let n = try? SignedNote(text) {
            _ = WitnessPolicy(witnesses: [WitnessKey(name: "w", publicKey: key.publicKey)], quorum: 1).cosigners(of: n)
        }
        _ = try? AddCheckpointRequest(body: text)
        _ = try? WitnessKey(verifierKey: text)
    }

    /// Proof files: any JSON is checked without crashing, as it is and with its checkpoints signed
    /// again by the log key (so hostile tree sizes and roots reach the proof arithmetic).
    static func proof(_ bytes: [UInt8]) {
        guard let file = try? JSONDecoder().decode(ProofFile.self, from: Data(bytes)) else { return }
        let policy = WitnessPolicy(witnesses: [WitnessKey(name: "w", publicKey: key.publicKey)], quorum: 1)
        _ = ProofVerifier.verify(file, logKeys: [key.publicKey], policy: policy)
        var resealed = file
        for path in [\ProofFile.checkpoint, \.from, \.to] {
            resealed[keyPath: path] = file[keyPath: path].map { Resealing.checkpoint($0, key: key) }
        }
        let result = ProofVerifier.verify(resealed, logKeys: [key.publicKey], policy: policy)
        // The harness's own check: a resealed checkpoint whose name can carry a signature line
        // never fails its log signature.
        let mustHold = [resealed.checkpoint, resealed.from, resealed.to].compactMap { $0 }.allSatisfy(Resealing.signatureMustHold)
        if mustHold, let problem = result.problems.first(where: { $0.contains("no valid signature by a trusted key") }) {
            fatalError("resealing left a checkpoint unsigned: \(problem)")
        }
    }

    /// The verifier over a mutated store: the first byte picks a file of a small sealed store
    /// (`first % files`), which reader checks the store (`first / files % 3`: the verifier, the
    /// proof builder, or the verified-segment reader that `cat` uses) and whether a replaced
    /// manifest or checkpoint is signed again with the store's key (`first / files / 3 % 2`: a
    /// stolen key, so the fuzzer reaches what lies behind the signature check); the rest replaces
    /// the file. A store is hostile input: verify reports, it never crashes. The store is held in
    /// memory (`MemorySource`) and small (two segments of 20 events), so an execution does no file
    /// I/O and little hashing.
    static func verifier(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let files = storeFiles
        var source = storeInMemory
        let file = files[Int(first) % files.count]
        let mode = Int(first) / files.count
        let replaced = Array(bytes.dropFirst())
        source.files[file] = replaced
        let signedAgain = mode / 3 % 2 == 1 && (file.hasSuffix(".manifest.json") || file.hasSuffix(".checkpoint"))
        if signedAgain && file.hasSuffix(".manifest.json") {
            source.files[String(file.dropLast(".json".count)) + ".sig"] = Resealing.manifestSignature(replaced, key: key)
        } else if signedAgain {
            source.files[file] = Resealing.checkpoint(replaced, key: key)
        }
        switch mode % 3 {
        case 0:
            var options = Verifier.Options(trustedKeys: [key.publicKey])
            options.checkTail = false
            options.parallelism = 1
            let report = Verifier(source: source, options: options).run()
            // Differential: a file the signed manifests commit to, byte for byte, cannot change
            // and still verify (unless the key holder signed the change).
            let committed = [".jsonl.gz", ".manifest.json", ".leaves", ".nodes"].contains { file.hasSuffix($0) }
            // The harness's own check: a manifest signed again with the trusted key cannot fail
            // its signature (it may name another key: unknown-key), nor a checkpoint whose name can
            // carry a signature line.
            if signedAgain && report.findings.contains(where: { $0.code == "bad-signature" && $0.file == file }) {
                fatalError("resealing left \(file) with a bad signature")
            }
            if signedAgain, file.hasSuffix(".checkpoint"), Resealing.signatureMustHold(String(decoding: source.files[file] ?? [], as: UTF8.self)),
               report.findings.contains(where: { $0.file == file && $0.message.contains("no valid signature") }) {
                fatalError("resealing left \(file) unsigned")
            }
            if report.intact && committed && !signedAgain && source.files[file] != storeInMemory.files[file] {
                fatalError("verify called the store intact with \(file) changed")
            }
        case 1:
            _ = ProofBuilder(tree: StoreTree(manifests: (try? StoreTree.loadManifests(from: source)) ?? [], read: source.read),
                             source: source).newestProvable()
        default:
            _ = VerifiedSegments(source: source, trustedKeys: [key.publicKey]).segments
        }
    }

    static let storeInMemory = MemorySource(loading: store)

    static let scratch: String = {
        let dir = NSTemporaryDirectory() + "auditseal-fuzz-\(getpid())"
        try? FileIO.makeDirectories(dir)
        return dir
    }()

    /// A small sealed store (2 segments of 20 events, a heartbeat), made once per process.
    static let store: String = {
        let dir = scratch + "/store"
        let semaphore = DispatchSemaphore(value: 0)
        Task.detached {
            var config = StoreConfiguration(dataDirectory: dir, nodeName: "fuzz")
            config.segmentMaxBytes = 1 << 30
            let s = try! AuditStore(configuration: config, signingKey: key)
            for b in 0..<2 {
                let text = (0..<20).map { #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"f\#(b)-\#($0)","stage":"ResponseComplete","verb":"get"}"# }.joined(separator: "\n")
                _ = try! await s.append(try! EventScanner(mode: .stream).scan(Array(text.utf8)))
                try! await s.sealNow()
            }
            try! await s.close()
            semaphore.signal()
        }
        semaphore.wait()
        return dir
    }()

    static let storeFiles: [String] = {
        ((try? FileIO.list(store + "/segments")) ?? []).map { "segments/" + $0 } + ["chain.json"]
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func auditsealFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.run(FuzzTargets.selected, bytes)
    return 0
}

/// Seed inputs from a real store (`auditseal-fuzz --write-seeds DIR`): DIR/<target>/...
func writeSeeds(_ out: String) {
    let store = FuzzTargets.store
    func put(_ target: String, _ name: String, _ bytes: [UInt8]) {
        try? FileIO.makeDirectories(out + "/" + target)
        try? FileIO.writeAtomically(path: out + "/" + target + "/" + name, bytes: bytes)
    }
    let segments = (try? FileIO.list(store + "/segments")) ?? []
    let files = FuzzTargets.storeFiles
    for name in segments {
        let bytes = (try? FileIO.readAll(path: store + "/segments/" + name)) ?? []
        if name.hasSuffix(".manifest.json") { put("manifest", name, bytes) }
        if name.hasSuffix(".checkpoint") { put("note", name, bytes) }
        // One seed per file and reader (the first byte picks both; see `FuzzTargets.verifier`).
        if let i = files.firstIndex(of: "segments/" + name), bytes.count < 64 << 10 {
            for (reader, suffix) in ["", ".proofbuilder", ".segments"].enumerated() {
                put("verifier", name + suffix, [UInt8(i + reader * files.count)] + bytes)
                // The same file, signed again with the store's key when changed.
                if name.hasSuffix(".manifest.json") || name.hasSuffix(".checkpoint") {
                    put("verifier", name + suffix + ".signed", [UInt8(i + (reader + 3) * files.count)] + bytes)
                }
                // A changed manifest signed again: its signature holds, its counts do not.
                let text = String(decoding: bytes, as: UTF8.self)
                if reader == 0, name.hasSuffix(".manifest.json"), text.contains(#""eventCount":20"#) {
                    let changed = Array(text.replacingOccurrences(of: #""eventCount":20"#, with: #""eventCount":21"#).utf8)
                    put("verifier", name + ".changed.signed", [UInt8(i + 3 * files.count)] + changed)
                }
            }
        }
    }
    // An open write-ahead segment with records.
    let walDir = FuzzTargets.scratch + "/wal-seed"
    let semaphore = DispatchSemaphore(value: 0)
    Task.detached {
        var config = StoreConfiguration(dataDirectory: walDir, nodeName: "fuzz")
        config.segmentMaxBytes = 1 << 30
        let s = try! AuditStore(configuration: config, signingKey: FuzzTargets.key)
        let text = (0..<20).map { #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"w-\#($0)","stage":"ResponseComplete"}"# }.joined(separator: "\n")
        _ = try! await s.append(try! EventScanner(mode: .stream).scan(Array(text.utf8)))
        for path in (try? StoreLayout(root: walDir).walPaths()) ?? [] { put("wal", (path as NSString).lastPathComponent, (try? FileIO.readAll(path: path)) ?? []) }
        try! await s.close()
        semaphore.signal()
    }
    semaphore.wait()
    FuzzTargets.recoverySeeds { put("recovery", $0, $1) }
    // A proof file and an add-checkpoint body.
    let source = DirectorySource(root: store)
    let tree = StoreTree(manifests: (try? StoreTree.loadManifests(from: source)) ?? [], read: source.read)
    let builder = ProofBuilder(tree: tree, source: source)
    if let target = builder.newestProvable(), let proof = try? builder.inclusion(indexes: [3, 30], at: target), let bytes = try? proof.encoded() {
        put("proof", "inclusion.json", bytes)
        if let note = try? builder.checkpointNote(sequence: target.sequence) {
            put("note", "add-checkpoint.txt", Array(AddCheckpointRequest(oldSize: 0, proof: [], checkpoint: note).body.utf8))
        }
    }
    let manifests = ((try? StoreTree.loadManifests(from: source)) ?? []).sorted { $0.sequence < $1.sequence }
    if manifests.count >= 2, let c = try? builder.consistency(from: manifests[0], to: manifests[manifests.count - 1]), let bytes = try? c.encoded() {
        put("proof", "consistency.json", bytes)
    }
    print("seeds written to \(out)")
}

#if FUZZING
/// libFuzzer's driver, called from our own entry point (SwiftPM names the executable's entry point).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, auditsealFuzzOne))
    }
}
#else
/// Replay: `auditseal-fuzz TARGET FILE...` runs each file through the target once.
@main
struct Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        if args.first == "--write-seeds", let out = args.dropFirst().first {
            writeSeeds(out)
            return
        }
        guard let target = args.first else {
            FileHandle.standardError.write(Data("usage: auditseal-fuzz TARGET FILE...\n".utf8))
            exit(2)
        }
        var count = 0
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            let paths = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for p in paths {
                guard let data = FileManager.default.contents(atPath: p) else { continue }
                FuzzTargets.run(target, Array(data))
                count += 1
            }
        }
        print("replayed \(count) input(s) through \(target)")
    }
}
#endif
