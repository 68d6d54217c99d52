import AuditSealCore
import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// The TLS context new connections get; replaced when the certificate, key or client CA files
/// change (SIGHUP, or a change seen by the periodic check). A failed reload keeps the old context.
public final class TLSContextHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var context: NIOSSLContext
    private var fingerprint: String
    private let make: @Sendable () throws -> NIOSSLContext
    private let files: [String]

    init(files: [String], make: @escaping @Sendable () throws -> NIOSSLContext) throws {
        self.files = files
        self.make = make
        context = try make()
        fingerprint = Self.fingerprint(files)
    }

    var current: NIOSSLContext {
        lock.lock(); defer { lock.unlock() }
        return context
    }

    /// Rebuilds the context from the files; returns true when it changed.
    @discardableResult
    func reload(force: Bool) throws -> Bool {
        let now = Self.fingerprint(files)
        lock.lock()
        let unchanged = now == fingerprint
        lock.unlock()
        if unchanged && !force { return false }
        let fresh = try make()
        lock.lock(); context = fresh; fingerprint = now; lock.unlock()
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
    let checkInterval: Double
    let logger: Logger

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    reload(force: true, reason: "SIGHUP")
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
