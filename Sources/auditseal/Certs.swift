import ArgumentParser
import AuditSealDeploy
import FoundationEssentials

/// `auditseal certs`: the CA, the receiver's server certificate, the API server's client
/// certificate and its webhook kubeconfig; renews the leaves before they expire.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or renew the mTLS certificates between the API server and the receiver, and the API server's webhook kubeconfig.",
        discussion: """
            Writes into DIR: ca.crt/ca.key (the receiver's clientCA), tls.crt/tls.key (the receiver's \
            server certificate, SANs SERVER-IP and localhost), apiserver.crt/apiserver.key (CN kube-apiserver) \
            and webhook-kubeconfig.yaml (the API server's --audit-webhook-config-file, everything embedded). \
            Keys are mode 0600. Run it again to renew: the CA is kept, a leaf is reissued when it is missing, \
            expires within --renew-within-days, or no longer names --server-ip; a running receiver picks up \
            the new tls.crt/tls.key by itself.
            """)

    @Option(help: "The directory to write to (created when missing).")
    var out: String

    @Option(help: "The address the API server dials; the server certificate's IP SAN.")
    var serverIP = "127.0.0.1"

    @Option(help: "The receiver's port, written into the kubeconfig's server URL.")
    var port = 8443

    @Option(help: "Lifetime of the server and client certificates, in days.")
    var days = 365

    @Option(help: "Lifetime of a newly created CA, in days.")
    var caDays = 3650

    @Option(help: "Reissue a leaf certificate that expires within this many days.")
    var renewWithinDays = 30

    @Flag(help: "Reissue the server and client certificates now (new keys), keeping the CA.")
    var renewNow = false

    func run() throws {
        var options = ClusterCertificates.Options(directory: out)
        options.serverIP = serverIP
        options.port = port
        options.leafDays = days
        options.caDays = caDays
        options.renewWithinDays = renewWithinDays
        options.renewNow = renewNow
        let outcome = try ClusterCertificates(options: options).run()
        for name in outcome.created { print("created \(out)/\(name)") }
        for name in outcome.renewed { print("renewed \(out)/\(name)") }
        for name in outcome.kept { print("kept    \(out)/\(name)") }
    }
}
