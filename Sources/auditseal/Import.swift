import ArgumentParser
import AuditSealCore
import AuditSealRedaction
import Logging
import FoundationEssentials
import Glibc

/// `auditseal import`: seals existing API-server audit logs into a store's chain.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal existing audit log files (JSON lines as --audit-log-path writes them, EventLists, optionally gzip) into the chain.")

    @OptionGroup var store: StoreOptions

    @OptionGroup(title: "Redaction (on by default, as in serve)") var redaction: RedactionOptions

    @Argument(help: "Audit log files, in chronological order.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file to import") }
    }

    /// Content read at a time: memory stays near this (plus the events' index) whatever a file's size.
    static let chunkBytes = 4 << 20
    /// A document that does not fit in this many bytes (a pretty-printed EventList larger than this,
    /// or a line that is not JSON) is an error at its line.
    static let largestDocument = 512 << 20

    func run() async throws {
        let stage = try redaction.stage(dataDirectory: store.dataDir, logger: Logger(label: "auditseal-import"))
        let auditStore = try store.openStore()
        var stored = 0
        var duplicates = 0
        var finished = [String]()
        do {
            for file in files {
                let (events, s, d) = try await Self.importFile(file, into: auditStore, redaction: stage)
                stored += s
                duplicates += d
                finished.append(file)
                print("\(file): \(events) events")
            }
            try await auditStore.close()
        } catch {
            try? await auditStore.close()
            // What came before the failure is committed (and sealed by the close): say so, and what to run next.
            let done = stored + duplicates > 0
                ? "; committed before it: \(stored) events (\(duplicates) duplicates dropped)\(finished.isEmpty ? "" : " from \(finished.joined(separator: ", "))") and the part of the failing file before the error. Fix the file and import it again: events already stored are dropped as duplicates"
                : "; nothing was committed"
            if let e = error as? AuditSealError { throw AuditSealError(e.code, e.reason + done) }
            throw ValidationError("\(error)\(done)")
        }
        let status = auditStore.status
        print("imported \(stored) events (\(duplicates) duplicates dropped); chain now holds \(status.nextIndex) events, \(status.manifestSequence) manifests")
    }

    /// Streams one file (plain or gzip) into the store in pieces of whole lines.
    static func importFile(_ file: String, into store: AuditStore, redaction: RedactionStage?) async throws -> (events: Int, stored: Int, duplicates: Int) {
        let reader = try LogFileReader(path: file)
        var offset: UInt64 = 0
        var line = 1
        var limit = chunkBytes
        var total = (events: 0, stored: 0, duplicates: 0)
        while true {
            var data = try reader.read(from: offset, limit: limit)
            if data.isEmpty { break }
            let atEnd = data.count < limit
            // Whole lines only, unless this is the end of the file.
            let end = atEnd ? data.count : (data.lastIndex(of: 0x0a).map { $0 + 1 } ?? 0)
            let batch: EventBatch
            do {
                guard end > 0 else { throw AuditSealError(.tooLarge, "a line longer than \(limit) bytes") }
                let whole = data.count
                data.removeLast(whole - end)  // in place: the piece is not copied
                batch = try EventScanner(mode: .stream).scan(data)
            } catch let error as AuditSealError {
                // A document may span lines (a pretty-printed EventList): a larger piece, up to a bound.
                if !atEnd && limit < largestDocument { limit *= 2; continue }
                throw AuditSealError(.malformedInput, "\(file) (from line \(line)): \(error.reason)")
            }
            var start = 0
            while start < batch.count {
                let stop = min(batch.count, start + 1000)
                let piece = batch.slice(start..<stop)
                let result = try await store.append(try await redaction?.prepare(piece) ?? piece)
                total.stored += result.stored
                total.duplicates += result.duplicates
                start = stop
            }
            total.events += batch.count
            line += data.withUnsafeBytes { raw in  // data now holds exactly the lines taken
                var count = 0
                var p = raw.baseAddress!
                let stop = raw.baseAddress! + end
                while p < stop, let hit = memchr(p, 0x0a, stop - p) {
                    count += 1
                    p = UnsafeRawPointer(hit) + 1
                }
                return count
            }
            offset += UInt64(end)
            limit = chunkBytes
        }
        return total
    }
}
