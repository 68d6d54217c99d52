import AuditSealCore
import FoundationEssentials
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The watcher's /metrics and /healthz (healthy while polls succeed: the last one within three intervals).
public struct WatchServer: Sendable {
    public let watcher: Watcher
    public let listen: (host: String, port: Int)
    public let logger: Logger

    public init(watcher: Watcher, host: String, port: Int, logger: Logger) {
        self.watcher = watcher
        self.listen = (host, port)
        self.logger = logger
    }

    /// Serves and polls until SIGTERM/SIGINT.
    public func run() async throws {
        let router = Router()
        let watcher = self.watcher
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: watcher.metrics.render())))
        }
        router.get("/healthz") { _, _ -> Response in
            let fresh = watcher.lastSuccessfulPoll.map { Date().timeIntervalSince($0) <= 3 * watcher.configuration.interval + 30 } ?? false
            let text = fresh ? "ok\n" : "no successful poll recently\n"
            return Response(status: fresh ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "auditseal-watch"),
                              onServerRunning: { channel in
                                  if let address = channel.localAddress, let port = address.port {
                                      Console.standardOutput.write(Data("auditseal: watching, metrics on http://\(listen.host):\(port)/metrics\n".utf8))
                                  }
                              }, logger: logger)
        let poller = PollService(watcher: watcher)
        let group = ServiceGroup(configuration: .init(services: [app, poller], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The poll loop as a service of the group.
struct PollService: Service {
    let watcher: Watcher
    func run() async throws {
        await cancelWhenGracefulShutdown { await watcher.run() }
    }
}
