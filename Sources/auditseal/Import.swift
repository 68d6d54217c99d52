import ArgumentParser
import AuditSealCore
import Foundation

/// `auditseal import`: seals existing API-server audit logs into a store's chain.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal existing audit log files (JSON lines as --audit-log-path writes them, EventLists, optionally gzip) into the chain.")

    @OptionGroup var store: StoreOptions

    @Argument(help: "Audit log files, in chronological order.")
    var files: [String]

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file to import") }
    }

    func run() async throws {
        let auditStore = try store.openStore()
        var stored = 0
        var duplicates = 0
        do {
            for file in files {
                var bytes = try FileIO.readAll(path: file)
                if bytes.starts(with: [0x1f, 0x8b]) { bytes = try GzipDecompressor.gunzip(bytes) }
                let batch: EventBatch
                do {
                    batch = try EventScanner(mode: .stream).scan(bytes)
                } catch let error as AuditSealError {
                    throw AuditSealError(.malformedInput, "\(file): \(error.reason)")
                }
                var start = 0
                while start < batch.count {
                    let end = min(batch.count, start + 1000)
                    let result = try await auditStore.append(batch.slice(start..<end))
                    stored += result.stored
                    duplicates += result.duplicates
                    start = end
                }
                print("\(file): \(batch.count) events")
            }
            try await auditStore.close()
        } catch {
            try? await auditStore.close()
            throw error
        }
        let status = auditStore.status
        print("imported \(stored) events (\(duplicates) duplicates dropped); chain now holds \(status.nextIndex) events, \(status.manifestSequence) manifests")
    }
}
