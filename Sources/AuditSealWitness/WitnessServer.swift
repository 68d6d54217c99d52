import AuditSealCore
import FoundationEssentials
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The witness's HTTP interface: `POST <prefix>/add-checkpoint` (C2SP tlog-witness: a receiver's
/// `witnesses[].url` is `https://HOST<prefix>`), `/metrics`, `/healthz`.
public struct WitnessServer: Sendable {
    public let witness: Witness
    public let host: String
    public let port: Int
    /// The URL path under which add-checkpoint is served ("" or, say, "/audit").
    public let pathPrefix: String
    public let logger: Logger

    public init(witness: Witness, host: String, port: Int, pathPrefix: String = "", logger: Logger) {
        self.witness = witness
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix.hasSuffix("/") ? String(pathPrefix.dropLast()) : pathPrefix
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        let witness = self.witness
        router.post(RouterPath(pathPrefix + "/add-checkpoint")) { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let answer = witness.addCheckpoint(body: String(decoding: buffer.readableBytesView, as: UTF8.self))
            var headers = HTTPFields()
            headers[.contentType] = answer.contentType
            return Response(status: HTTPResponse.Status(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: witness.metrics.render())))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        let host = self.host
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "auditseal-witness"),
                              onServerRunning: { channel in
                                  if let port = channel.localAddress?.port {
                                      Console.standardOutput.write(Data("auditseal: witness \(witness.verifierKey) listening on http://\(host):\(port)\n".utf8))
                                  }
                              }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
