import ArgumentParser
import AuditSealCore
import FoundationEssentials
import Glibc

/// The `auditseal` command: a tamper-evident sink for Kubernetes audit events.
struct AuditSeal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auditseal",
        abstract: "Tamper-evident, hash-chained storage for Kubernetes audit events.",
        discussion: "Files are specified in docs/FORMAT.md. Exit codes: 0 success (verify: intact), 1 tampered, 2 usage or runtime error.",
        version: "auditseal \(AuditSeal.version) (commit \(BuildInfo.commit))",
        subcommands: [Serve.self, Keygen.self, Import.self, Seal.self, Ship.self, Verify.self, Certs.self, Policy.self, RotateKey.self, Watch.self, Cat.self, Status.self, Prove.self, Consistency.self, VerifyProof.self, WitnessCommand.self, Reconcile.self, RevealCommand.self])

    /// The release; the commit comes from the build (Plugins/BuildInfo).
    static let version = "0.9.0"
}

@main
enum Entry {
    static func main() async {
        do {
            var command = try AuditSeal.parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as AuditSealError {
            Console.standardError.write(Data("auditseal: \(error.reason)\n".utf8))
            exit(2)
        } catch {
            let code = AuditSeal.exitCode(for: error)
            if code == .validationFailure {
                Console.standardError.write(Data((AuditSeal.fullMessage(for: error) + "\n").utf8))
                exit(2)
            }
            AuditSeal.exit(withError: error)
        }
    }
}

/// Options shared by commands that write to a store.
struct StoreOptions: ParsableArguments {
    @Option(help: "The data directory (created when missing).")
    var dataDir: String

    @Option(help: "Ed25519 private key (PEM, mode 0600) that signs manifests; see `auditseal keygen`.")
    var signingKey: String

    @Option(help: "This node's name, written into manifests (default: the host name).")
    var node: String?

    @Option(help: "Seal the open segment when it reaches this many bytes.")
    var segmentMaxBytes: Int = 64 << 20

    @Option(help: "zlib level (0-9) for sealed segments.")
    var gzipLevel: Int = 6

    func storeConfiguration() throws -> StoreConfiguration {
        guard segmentMaxBytes > 0 else { throw ValidationError("--segment-max-bytes must be positive") }
        guard (0...9).contains(gzipLevel) else { throw ValidationError("--gzip-level must be 0...9") }
        var config = StoreConfiguration(dataDirectory: dataDir, nodeName: node ?? HostName.current)
        config.segmentMaxBytes = segmentMaxBytes
        config.gzipLevel = gzipLevel
        return config
    }

    func openStore() throws -> AuditStore {
        let key = try KeyFiles.loadPrivateKey(path: signingKey)
        let store = try AuditStore(configuration: try storeConfiguration(), signingKey: key)
        for note in store.recoveryNotes { Console.standardError.write(Data("auditseal: recovery: \(note)\n".utf8)) }
        return store
    }
}

