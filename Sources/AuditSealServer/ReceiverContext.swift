import Hummingbird
import NIOCore
import NIOSSL

/// Hummingbird's request context plus the connection's channel, so the ingest route can read the
/// client certificate that TLS verified.
public struct ReceiverContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    /// The verified client certificate's subject common name (see `clientCommonName`); a property
    /// so that the ingest route's 403 can be tested in-process without a TLS handshake.
    var clientIdentity: @Sendable () async -> String??

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let channel = source.channel
        self.channel = channel
        clientIdentity = { await Self.clientCommonName(channel) }
    }

    /// Bodies are read by the ingest route itself, with its own limit.
    public var maxUploadSize: Int { Int.max }

    /// The verified client certificate's subject common name; nil without TLS or certificate.
    static func clientCommonName(_ channel: any Channel) async -> String?? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get() else { return nil }
        return .some(ClientCertificate.commonName(from: certificate.description))
    }
}

/// Reads the subject CN that NIOSSL prints in a certificate's description
/// (`<NIOSSLCertificate;serial_number=...;common_name=NAME;...>`).
enum ClientCertificate {
    static func commonName(from description: String) -> String? {
        guard let range = description.firstRange(of: ";common_name=") else { return nil }
        let rest = description[range.upperBound...]
        let end = rest.firstIndex { $0 == ";" || $0 == ">" } ?? rest.endIndex
        return String(rest[..<end])
    }
}
