import ArgumentParser
import AuditSealCore

/// `auditseal seal`: recovers a store and seals its open segment now.
struct Seal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recover the data directory and seal its open segment now (with a closing manifest).")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let auditStore = try store.openStore()
        try await auditStore.close()
        let status = auditStore.status
        print("sealed: chain holds \(status.nextIndex) events, latest manifest \(status.manifestSequence)")
    }
}
