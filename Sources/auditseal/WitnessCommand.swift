import ArgumentParser
import AuditSealCore
import AuditSealWitness
import FoundationEssentials
import Logging

/// `auditseal witness`: a C2SP tlog-witness for auditseal chains, run by a second party.
struct WitnessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness",
        abstract: "Run a witness (C2SP tlog-witness): cosign checkpoints of known logs only when they extend what was cosigned before.",
        discussion: """
            Each --log is a log's checkpoint verifier key, <origin>+<key hash>+<base64 key>, as a node's chain names it \
            (auditseal/NODE/CHAIN-ID; `auditseal witness --log-key-for DATA_DIR` prints it). The state (latest cosigned \
            size and root per origin) is fsync'd in --data-dir before any cosignature is returned. A checkpoint that does \
            not extend it is refused (409 or 422), logged, counted in auditseal_witness_conflicts_total and kept as \
            evidence in DATA_DIR/conflicts.log.
            """)

    @Option(help: "HOST:PORT to listen on.")
    var listen: String = "127.0.0.1:9445"

    @Option(help: "State directory.")
    var dataDir: String?

    @Option(help: "The witness's Ed25519 private key (PEM; `auditseal keygen` writes one).")
    var key: String?

    @Option(help: "The witness's name (a schema-less URL that identifies it).")
    var name: String = "witness.auditseal.local"

    @Option(name: .customLong("log"), help: "A log's checkpoint verifier key; repeatable.")
    var logs: [String] = []

    @Option(help: "Print the log verifier key of a data directory's chain (for --log) and exit.")
    var logKeyFor: String?

    @Option(help: "With --log-key-for: the public key that signs that chain (PEM; default: DATA_DIR/signing.key.pub).")
    var publicKey: String?

    @Option(help: "URL path under which POST .../add-checkpoint is served, e.g. /audit; receivers' witnesses[].url is then https://HOST/audit. Default: the root.")
    var pathPrefix: String = ""

    @Flag(help: "Print this witness's verifier key (for --witness) and exit.")
    var printKey = false

    func run() async throws {
        if let dir = logKeyFor {
            let identity = try StableJSON.decode(ChainIdentity.self, from: try FileIO.readAll(path: dir + "/chain.json"))
            let pub = try KeyFiles.loadPublicKey(path: publicKey ?? dir + "/signing.key.pub")
            print(Checkpoint.verifierKey(name: Checkpoint.origin(node: identity.node, chainID: identity.chainID), publicKey: pub))
            return
        }
        guard let key, let dataDir else { throw ValidationError("a witness needs --key and --data-dir") }
        let privateKey = try KeyFiles.loadPrivateKey(path: key)
        if printKey {
            print(WitnessKey(name: name, publicKey: privateKey.publicKey).verifierKey)
            return
        }
        guard !logs.isEmpty else { throw ValidationError("give at least one --log") }
        guard let hp = HostPortParts(listen) else { throw ValidationError("--listen must be HOST:PORT") }
        let parsed: [Witness.Log]
        do { parsed = try logs.map(Witness.Log.init(verifierKey:)) } catch { throw ValidationError("\(error)") }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "auditseal-witness")
        let witness = try Witness(name: name, key: privateKey, dataDirectory: dataDir, logs: parsed, metrics: WitnessMetrics(), logger: logger)
        guard pathPrefix.isEmpty || pathPrefix.hasPrefix("/") else { throw ValidationError("--path-prefix must start with /") }
        try await WitnessServer(witness: witness, host: hp.host, port: hp.port, pathPrefix: pathPrefix, logger: logger).run()
    }
}

struct HostPortParts {
    var host: String
    var port: Int
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else { return nil }
        host = String(text[..<colon])
        self.port = port
    }
}
