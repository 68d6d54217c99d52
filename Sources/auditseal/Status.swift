import ArgumentParser
import AuditSealCore
import AuditSealShipping
import FoundationEssentials

/// `auditseal status`: per node and chain, what is stored, sealed, verified and shipped.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, per node and chain: events, event times, segments, the open segment, heartbeats, signing keys, the last scheduled verification, shipping lag, and what is local only or in the bucket.",
        discussion: "STORE is a data directory (with --s3-endpoint and --s3-bucket: compared with what was shipped) or s3://BUCKET/PREFIX (every store under it, from its manifests). Reads manifests, never segment data.")

    @Argument(help: "The data directory, or s3://BUCKET/PREFIX.")
    var store: String

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup(title: "S3") var s3: S3Options

    func run() async throws {
        var summaries = [StoreSummary]()
        if store.hasPrefix("s3://") {
            let opened = try await BucketStores.open(store, s3: s3, node: nil)
            for source in opened.stores {
                var summary = StoreSummary(source: source)
                summary.store = source.name
                summaries.append(summary)
            }
            await opened.cleanup()
        } else {
            guard FileIO.exists(store) else { throw ValidationError("\(store) does not exist") }
            let ledger = FileIO.exists(store + "/shipping/ledger") ? ShippingLedger.shippedSegmentFiles(dataDirectory: store) : nil
            var summary = StoreSummary(source: DirectorySource(root: store), shipped: ledger)
            if s3.endpoint != nil || s3.bucket != nil {
                guard let bucket = s3.bucket else { throw ValidationError("comparing with a bucket needs --s3-endpoint and --s3-bucket") }
                let client = try s3.client(bucket: bucket, for: "s3://\(bucket)")
                do {
                    let prefix = try Shipper.storePrefix(dataDirectory: store, prefix: s3.prefix ?? "auditseal")
                    let inBucket = Set(StoreObject.group(try await client.listVersions(prefix: prefix), storePrefix: prefix).map(\.relative).filter { $0.hasPrefix("segments/") })
                    let local = Set(try FileIO.list(store + "/segments").filter { !$0.hasSuffix(".tmp") }.map { "segments/" + $0 })
                    summary.compare(withBucket: inBucket, localFiles: local)
                } catch {
                    try? await client.shutdown()
                    throw error
                }
                try? await client.shutdown()
            }
            summaries.append(summary)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summaries.count == 1 ? AnyEncodable(summaries[0]) : AnyEncodable(summaries)), as: UTF8.self))
        } else {
            print(summaries.map(\.text).joined(separator: "\n\n"))
        }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}
