import ArgumentParser
import AuditSealCore

/// `auditseal keygen`: writes a new Ed25519 signing key and its public key.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a new Ed25519 signing key (PEM, mode 0600) to FILE and its public key to FILE.pub.")

    @Option(help: "Where to write the private key; FILE.pub gets the public key. Existing files are never overwritten.")
    var out: String

    func run() throws {
        let key = try KeyFiles.generate(at: out)
        print("wrote \(out) (private, mode 0600) and \(out).pub")
        print("key ID: \(key.publicKey.keyID)")
    }
}
