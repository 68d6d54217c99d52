import ArgumentParser
import AuditSealCore
import AuditSealServer
import AuditSealShipping
import FoundationEssentials
import Logging

/// `auditseal ship`: uploads what is sealed and not yet shipped, then exits.
struct Ship: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload sealed segments not yet shipped to an S3 bucket with Object Lock, then exit (for imports and catching up).",
        discussion: "Safe to interrupt and run again: each object is uploaded once (a HEAD before every PUT), and the ledger in DATA_DIR/shipping/ledger records what is confirmed. A receiver that ships holds the ledger's lock; `ship` then refuses to run beside it. Exit 0 when everything sealed is shipped, 2 on errors.")

    @Option(help: "The data directory.") var dataDir: String
    @OptionGroup var s3: S3Options
    @Option(help: "Delete local segment data this many days after sealing, once its upload is confirmed [localRetentionDays].")
    var localRetentionDays: Double?
    @Flag(help: "Create the bucket, with Object Lock, when it does not exist (test and development setups; production buckets are created by their owners, see docs/S3.md).")
    var createBucket = false

    func run() async throws {
        var c = ServeConfiguration()
        c.dataDir = dataDir
        c.localRetentionDays = localRetentionDays
        s3.apply(to: &c)
        guard c.s3Endpoint != nil, c.s3Bucket != nil else { throw ValidationError("--s3-endpoint and --s3-bucket are required") }
        guard FileIO.exists(dataDir + "/chain.json") else { throw ValidationError("\(dataDir) is not an auditseal data directory (no chain.json)") }
        let shipper: Shipper
        do {
            guard let made = try c.makeShipper(logger: Logger(label: "auditseal.ship")) else { return }
            shipper = made
        } catch let error as S3Error {
            throw ValidationError(error.description)
        }
        shipper.onShipped = { relative, key in print("shipped \(relative) -> \(key)") }
        if createBucket {
            do {
                try await shipper.client.createBucket(objectLock: true)
            } catch let error as S3Error where error.code == "BucketAlreadyOwnedByYou" || error.code == "BucketAlreadyExists" {
                // Already there: its Object Lock is checked like any other bucket's.
            }
        }
        do {
            let uploaded = try await shipper.shipPending()
            let s = shipper.snapshot
            print("done: \(uploaded) uploaded (\(s.bytesShipped) bytes), \(s.objectsAlreadyPresent) already in the bucket, 0 pending")
            try await shipper.client.shutdown()
        } catch {
            try? await shipper.client.shutdown()
            Console.standardError.write(Data("auditseal: shipping failed: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
