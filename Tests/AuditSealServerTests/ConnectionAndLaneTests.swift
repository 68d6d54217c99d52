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
}
