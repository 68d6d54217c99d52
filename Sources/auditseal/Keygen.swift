import ArgumentParser
import AuditSealCore
import AuditSealRedaction

/// `auditseal keygen`: writes a new Ed25519 signing key and its public key.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a new Ed25519 signing key (PEM, mode 0600) to FILE and its public key to FILE.pub.",
        discussion: "With --auditor, an X25519 key pair for the redaction vault instead: FILE.pub goes in redaction.auditorKeys on the nodes, FILE stays with the auditor (auditseal reveal).")

    @Option(help: "Where to write the private key; FILE.pub gets the public key. Existing files are never overwritten.")
    var out: String

    @Flag(help: "An auditor's X25519 key pair (the redaction vault), not a signing key.")
    var auditor = false

    func run() throws {
        if auditor {
            let id = try AuditorKeys.generate(at: out)
            print("wrote \(out) (auditor private key, mode 0600: keep it off the nodes) and \(out).pub (for redaction.auditorKeys)")
            print("key ID: \(id)")
            return
        }
        let key = try KeyFiles.generate(at: out)
        print("wrote \(out) (private, mode 0600) and \(out).pub")
        print("key ID: \(key.publicKey.keyID)")
    }
}
