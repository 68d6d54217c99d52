import AuditSealCore
import FoundationEssentials
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// The TLS context new connections get; replaced when the certificate, key or client CA files
/// change (SIGHUP, or a change seen by the periodic check). A failed reload keeps the old context.
public final class TLSContextHolder: Sendable {
    private let state: Locked<(context: NIOSSLContext, fingerprint: String)>
    private let make: @Sendable () throws -> NIOSSLContext
    private let files: [String]

    init(files: [String], make: @escaping @Sendable () throws -> NIOSSLContext) throws {
        self.files = files
        self.make = make
        state = Locked((try make(), Self.fingerprint(files)))
    }

    var current: NIOSSLContext { state.withLock { $0.context } }

    /// Rebuilds the context from the files; returns true when it changed.
    @discardableResult
    func reload(force: Bool) throws -> Bool {
        let now = Self.fingerprint(files)
        let unchanged = state.withLock { $0.fingerprint == now }
        if unchanged && !force { return false }
        let fresh = try make()
        state.withLock { $0 = (fresh, now) }
        return true
    }

    /// Size and modification time of each file: enough to notice a replaced certificate.
    static func fingerprint(_ files: [String]) -> String {
        files.map { path in
            let a = try? FileManager.default.attributesOfItem(atPath: path)
            return "\(path):\((a?[.size] as? Int) ?? -1):\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }.joined(separator: ";")
    }
}

/// Wraps an HTTP child channel in TLS, taking the holder's current context for each connection.
struct ReloadableTLSChannel<Base: ServerChildChannel & HTTPChannelHandler>: ServerChildChannel, HTTPChannelHandler {
    typealias Value = Base.Value
    let base: Base
    let holder: TLSContextHolder

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: holder.current))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Reloads TLS files and the bearer token on SIGHUP and when a periodic check sees them change.
struct ReloadService: Service {
    let tls: TLSContextHolder?
    let token: BearerToken?
    /// On SIGHUP only: a different key in this file is handed over to (docs/OPERATIONS.md, "Rotate the signing key").
    let signingKey: (path: String, store: AuditStore)?
    let checkInterval: Double
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    reload(force: true, reason: "SIGHUP")
                    await rotateSigningKeyIfReplaced()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(checkInterval)) } catch { return }
                    reload(force: false, reason: "file change")
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// The signing key file holds another key: the current key hands over to it. Never on a mere
    /// file change: whoever can only write the key Secret must not be able to take over the chain
    /// (a replaced key without a handover makes the receiver refuse to start instead).
    func rotateSigningKeyIfReplaced() async {
        guard let (path, store) = signingKey else { return }
        do {
            let next = try KeyFiles.loadPrivateKey(path: path)
            let current = store.signingKeyID
            guard next.publicKey.keyID != current else { return }
            try await store.rotateKey(to: next)
            logger.notice("signing key rotated: key \(current.prefix(16))… handed over to \(next.publicKey.keyID.prefix(16))…")
            Receiver.announce("signing key rotated \(next.publicKey.keyID)")
        } catch {
            logger.error("signing key rotation failed, still signing with the previous key: \(error)")
        }
    }

    func reload(force: Bool, reason: String) {
        do {
            if let tls, try tls.reload(force: force) {
                logger.notice("reloaded TLS certificate, key and client CA (\(reason))")
                Receiver.announce("tls reloaded")
            }
            if force, let token {
                try token.reload()
                logger.notice("reloaded bearer token (\(reason))")
            }
        } catch {
            logger.error("reload failed, keeping the previous TLS context and token: \(error)")
        }
    }
}
