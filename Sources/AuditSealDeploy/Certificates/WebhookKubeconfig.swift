import FoundationEssentials

/// The kubeconfig the API server reads through `--audit-webhook-config-file`, with the CA and the
/// client certificate and key embedded (`*-data` fields), as kubeadm writes its own kubeconfigs:
/// one self-contained file, so no path inside it depends on where the API server mounts it.
struct WebhookKubeconfig {
    var serverURL: String
    var caPEM: String
    var clientCertificatePEM: String
    var clientKeyPEM: String

    func render() -> String {
        func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
        return """
            # Written by `auditseal certs`: the kube-apiserver's --audit-webhook-config-file.
            # It embeds the API server's client key: keep it mode 0600, readable by the API server only.
            # The API server appends ?timeout=30s to the server URL; auditseal matches on the path alone.
            apiVersion: v1
            kind: Config
            clusters:
              - name: auditseal
                cluster:
                  server: \(serverURL)
                  certificate-authority-data: \(b64(caPEM))
            users:
              - name: kube-apiserver
                user:
                  client-certificate-data: \(b64(clientCertificatePEM))
                  client-key-data: \(b64(clientKeyPEM))
            contexts:
              - name: default
                context:
                  cluster: auditseal
                  user: kube-apiserver
            current-context: default

            """
    }
}
