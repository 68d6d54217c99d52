import ArgumentParser
import AuditSealCore
import FoundationEssentials

/// `auditseal rotate-key`: the current signing key hands over to a new one.
struct RotateKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Hand the store over from its signing key to a new one.",
        discussion: """
            Writes a heartbeat manifest signed by the current key that names the new key's ID; every later \
            manifest is signed by the new key, and a verifier that trusts only the first public key follows \
            the handover. A manifest signed by the old key after it is a finding (retired-key). \
            For a running receiver, do not use this command: replace the file its --signing-key names with \
            the new key and send it SIGHUP; it hands over itself.
            """)

    @Option(help: "The data directory.")
    var dataDir: String

    @Option(help: "The key that signs the store now (PEM, mode 0600).")
    var signingKey: String

    @Option(help: "The new key (from `auditseal keygen`); it signs everything after the handover.")
    var newKey: String

    @Option(help: "This node's name (default: the host name; must match the store's).")
    var node: String?

    func run() async throws {
        let current = try KeyFiles.loadPrivateKey(path: signingKey)
        let next = try KeyFiles.loadPrivateKey(path: newKey)
        let store: AuditStore
        do {
            store = try AuditStore(configuration: StoreConfiguration(dataDirectory: dataDir, nodeName: node ?? HostName.current), signingKey: current)
        } catch let error as AuditSealError where error.code == .directoryInUse {
            throw AuditSealError(.usage, "\(error.reason). A running receiver rotates itself: put the new key in the file its signingKey names and send it SIGHUP.")
        }
        try await store.rotateKey(to: next)
        try await store.close()
        print("key \(current.publicKey.keyID) handed over to \(next.publicKey.keyID)")
        print("from now on start the receiver with --signing-key \(newKey); keep \(newKey).pub with the auditors' copy of the first public key")
    }
}
