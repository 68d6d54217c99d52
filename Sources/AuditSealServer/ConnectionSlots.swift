import FoundationEssentials
import Dispatch
import HummingbirdCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTPTypes
import Prometheus

/// The main listener's connection slots. A connection without a request in progress holds a slot
/// cheaply for an attacker (a TCP or TLS connect, then silence), so when every slot is taken a new
/// connection evicts one of them instead of waiting behind them in the kernel's accept queue:
/// first the oldest connection that has never sent a complete request head (handshake floods,
/// idle sockets, header tricklers), then the connection idle longest between requests. A
/// connection in the middle of a request is never evicted; when all are, accepting pauses until
/// one closes (at most `limit` connections plus the one just accepted).
///
/// The API server's webhook sender keeps one busy keep-alive connection per client, so under a
/// flood of idle connections it keeps its slot and its batches go on being answered.
public final class ConnectionSlots: Sendable {
    struct Slot {
        let channel: any Channel
        /// A request head arrived and its response has not ended.
        var busy = false
        /// At least one request was answered on this connection.
        var served = false
        /// When the connection opened or last became idle (uptime nanoseconds).
        var idleSince: UInt64
    }

    private struct State {
        var slots: [ObjectIdentifier: Slot] = [:]
        var busy = 0
    }

    /// Connections kept open before an idle one is evicted.
    public let limit: Int
    private let state = NIOLockedValueBox(State())
    private let evictedNeverServed: Counter?
    private let evictedIdle: Counter?
    private let openGauge: Gauge?

    public init(limit: Int, metrics: ReceiverMetrics? = nil) {
        self.limit = limit
        let r = metrics?.registry
        let evicted = ReceiverMetrics.name("connections_evicted", "total", "Connections closed to free a slot for a new one, by what they were doing: never_served (no complete request yet) or idle (between requests).")
        evictedNeverServed = r?.makeCounter(descriptor: evicted, labels: [("state", "never_served")])
        evictedIdle = r?.makeCounter(descriptor: evicted, labels: [("state", "idle")])
        openGauge = r?.makeGauge(descriptor: ReceiverMetrics.name("connections_open", "", "Open connections on the main listener."))
    }

    /// Open connections.
    public var count: Int { state.withLockedValue { $0.slots.count } }

    /// Whether the listener may accept another connection now: a slot is free, or one can be evicted.
    var acceptsNewConnections: Bool {
        state.withLockedValue { $0.slots.count < limit || $0.busy < $0.slots.count }
    }

    /// Registers a new connection and, when that goes over the limit, closes the connection that
    /// costs least to lose.
    func opened(_ channel: any Channel) {
        let victim: (any Channel)? = state.withLockedValue { s in
            s.slots[ObjectIdentifier(channel)] = Slot(channel: channel, idleSince: DispatchTime.now().uptimeNanoseconds)
            guard s.slots.count > limit else { return nil }
            var best: (key: ObjectIdentifier, slot: Slot)?
            for (key, slot) in s.slots where !slot.busy && key != ObjectIdentifier(channel) {
                guard let b = best else { best = (key, slot); continue }
                if (!slot.served && b.slot.served) || (slot.served == b.slot.served && slot.idleSince < b.slot.idleSince) {
                    best = (key, slot)
                }
            }
            guard let best else { return nil }
            s.slots[best.key] = nil
            (best.slot.served ? evictedIdle : evictedNeverServed)?.increment()
            return best.slot.channel
        }
        openGauge?.set(Double(count))
        victim?.close(promise: nil)
    }

    func closed(_ channel: any Channel) {
        state.withLockedValue { s in
            if let slot = s.slots.removeValue(forKey: ObjectIdentifier(channel)), slot.busy { s.busy -= 1 }
        }
        openGauge?.set(Double(count))
    }

    func requestStarted(_ channel: any Channel) {
        state.withLockedValue { s in
            guard var slot = s.slots[ObjectIdentifier(channel)], !slot.busy else { return }
            slot.busy = true
            s.busy += 1
            s.slots[ObjectIdentifier(channel)] = slot
        }
    }

    func requestEnded(_ channel: any Channel) {
        state.withLockedValue { s in
            guard var slot = s.slots[ObjectIdentifier(channel)], slot.busy else { return }
            slot.busy = false
            slot.served = true
            slot.idleSince = DispatchTime.now().uptimeNanoseconds
            s.busy -= 1
            s.slots[ObjectIdentifier(channel)] = slot
        }
    }

    /// Hummingbird's accept gate over these slots.
    var acceptGate: AcceptGate { AcceptGate(slots: self) }

    struct AcceptGate: AvailableConnectionsDelegate {
        let slots: ConnectionSlots
        mutating func connectionOpened() {}
        mutating func connectionClosed() {}
        func isAcceptingNewConnections() -> Bool { slots.acceptsNewConnections }
    }

    /// Per connection: registers it, and tells the slots when a request starts and its response ends.
    final class Handler: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart

        private let slots: ConnectionSlots
        init(slots: ConnectionSlots) { self.slots = slots }

        func handlerAdded(context: ChannelHandlerContext) { slots.opened(context.channel) }

        func handlerRemoved(context: ChannelHandlerContext) { slots.closed(context.channel) }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head = unwrapInboundIn(data) { slots.requestStarted(context.channel) }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .end = unwrapOutboundIn(data) { slots.requestEnded(context.channel) }
            context.write(data, promise: promise)
        }
    }
}
