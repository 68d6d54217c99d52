import AuditSealCore
import AuditSealTestSupport
@testable import AuditSealServer
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

/// The two fairness mechanisms under hostile load, in isolation: which connection a full set of
/// slots gives up, and the one-at-a-time lane for large batches.
@Suite struct ConnectionAndLaneTests {
    @Test func fullSlotsEvictTheOldestNeverServedThenTheLongestIdle() throws {
        let slots = ConnectionSlots(limit: 3)
        let served = try Self.connected(), busy = try Self.connected(), silentOld = try Self.connected()
        slots.opened(served)
        slots.requestStarted(served)
        slots.requestEnded(served)
        slots.opened(busy)
        slots.requestStarted(busy)
        slots.opened(silentOld)
        #expect(slots.count == 3 && slots.acceptsNewConnections)
        // A fourth connection: the silent one goes (never served), not the served or the busy one.
        let newcomer = try Self.connected()
        slots.opened(newcomer)
        #expect(!silentOld.isActive && served.isActive && busy.isActive && newcomer.isActive)
        #expect(slots.count == 3)
        // The newcomer is now the only never-served one: the next evicts it.
        let next = try Self.connected()
        slots.opened(next)
        #expect(!newcomer.isActive && next.isActive)
        // Once the newest has been served, the longest idle served connection goes.
        slots.requestStarted(next)
        slots.requestEnded(next)
        let last = try Self.connected()
        slots.opened(last)
        #expect(!served.isActive && busy.isActive && next.isActive && last.isActive)
        // A busy connection is never evicted: with every other one busy too, nothing is, and
        // accepting pauses.
        slots.requestStarted(next)
        slots.requestStarted(last)
        #expect(!slots.acceptsNewConnections)
        slots.closed(last)
        #expect(slots.acceptsNewConnections)
    }

    /// An embedded channel that is active, as an accepted connection is.
    static func connected() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func largeBatchesRunOneAtATimeAndSmallOnesNeverWait() async throws {
        let lane = LargeBatchLane(threshold: 1000)
        let inside = NIOLockedValueBox((now: 0, most: 0, order: [Int]()))
        let gate = AsyncStream<Void>.makeStream()
        // The first large batch holds the lane until released.
        let first = Task {
            try await lane.run(bytes: 5000) { () async -> Void in
                inside.withLockedValue { $0.now += 1; $0.most = max($0.most, $0.now); $0.order.append(0) }
                for await _ in gate.stream { break }
                inside.withLockedValue { $0.now -= 1 }
            }
        }
        while inside.withLockedValue({ $0.order.isEmpty }) { await Task.yield() }
        // A small batch passes while the lane is held.
        let small = try await lane.run(bytes: 999) { "small" }
        #expect(small == "small")
        var others = [Task<Void, Error>]()
        for i in 1...20 {
            others.append(Task {
                try await lane.run(bytes: 1000 + i) { () async -> Void in
                    inside.withLockedValue { $0.now += 1; $0.most = max($0.most, $0.now); $0.order.append(i) }
                    await Task.yield()
                    inside.withLockedValue { $0.now -= 1 }
                }
            })
        }
        gate.continuation.yield()
        gate.continuation.finish()
        try await first.value
        for t in others { try await t.value }
        let result = inside.withLockedValue { $0 }
        #expect(result.most == 1)
        #expect(result.order.count == 21 && result.order.first == 0)
    }

    static func batch(_ count: Int, prefix: String) throws -> EventBatch {
        let text = (0..<count).map { #"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"\#(prefix)-\#($0)","stage":"ResponseComplete","verb":"get","requestURI":"/api/v1/namespaces/default/pods/\#(String(repeating: "p", count: $0 % 97))"}"# }
        return try EventScanner(mode: .stream).scan(Array(text.joined(separator: "\n").utf8))
    }

    @Test func slicesCoverTheBatchInOrderWithinTheirSize() throws {
        let batch = try Self.batch(500, prefix: "s")
        for maxBytes in [1, 300, 4096, 1 << 20] {
            let slices = LargeBatchLane.slices(of: batch, maxBytes: maxBytes)
            #expect(slices.first?.lowerBound == 0 && slices.last?.upperBound == 500)
            for (a, b) in zip(slices, slices.dropFirst()) { #expect(a.upperBound == b.lowerBound && !a.isEmpty) }
            for slice in slices {
                let bytes = slice.reduce(0) { $0 + batch.events[$1].line.count + 1 }
                #expect(bytes <= maxBytes || slice.count == 1, "slice \(slice) holds \(bytes) bytes, over \(maxBytes)")
            }
        }
        #expect(LargeBatchLane.slices(of: batch, maxBytes: 1).count == 500, "an event larger than a slice is a slice of its own")
        #expect(LargeBatchLane.slices(of: batch, maxBytes: 1 << 20).count == 1)
    }

    /// A large batch goes to the store one slice per append (each its own commit), a small one
    /// whole; a retry after a slice failed (the first slices stored, the batch refused) stores the
    /// rest once and answers the stored ones as duplicates.
    @Test func aLargeBatchStoredInSlicesAndItsRetryAfterAPartialStore() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try AuditStore(configuration: StoreConfiguration(dataDirectory: dir, nodeName: "lane"),
                                   signingKey: try Ed25519PrivateKey(seed: [UInt8](repeating: 3, count: 32)))
        let lane = LargeBatchLane(threshold: 10_000, sliceBytes: 4096)
        let batch = try Self.batch(400, prefix: "large")
        let bodyBytes = batch.lines.count
        #expect(bodyBytes >= 10_000 && LargeBatchLane.slices(of: batch, maxBytes: 4096).count > 10)
        // What a failure at the fourth slice leaves: the first three slices stored.
        let slices = LargeBatchLane.slices(of: batch, maxBytes: 4096)
        for range in slices.prefix(3) { _ = try await store.append(batch.slice(range)) }
        let storedBefore = slices.prefix(3).reduce(0) { $0 + $1.count }
        let appended = NIOLockedValueBox([Int]())
        let append = { (part: EventBatch) async throws -> AppendResult in
            appended.withLockedValue { $0.append(part.count) }
            return try await store.append(part)
        }
        let retry = try await lane.append(batch, bodyBytes: bodyBytes, using: append)
        #expect(retry.stored == 400 - storedBefore && retry.duplicates == storedBefore)
        #expect(appended.withLockedValue { $0 } == slices.map(\.count), "one append per slice, in order")
        // A small batch is appended whole (one commit), beside it.
        appended.withLockedValue { $0.removeAll() }
        let small = try await lane.append(try Self.batch(10, prefix: "small"), bodyBytes: 100, using: append)
        #expect(small == AppendResult(stored: 10, duplicates: 0, firstIndex: 400))
        #expect(appended.withLockedValue { $0 } == [10])
        try await store.close()
        let ids = try TestSupport.auditIDs(try TestSupport.storedLines(dir))
        #expect(ids == (0..<400).map { "large-\($0)" } + (0..<10).map { "small-\($0)" })
    }
}
