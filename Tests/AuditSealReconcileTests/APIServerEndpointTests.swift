import AuditSealCore
import AuditSealReconcile
import AuditSealTestSupport
import Foundation
import Testing

/// A projected ServiceAccount token is rotated by the kubelet (hourly in the shipped DaemonSet):
/// the scraper reads the token file at each request, from a config's tokenFile or a kubeconfig's.
@Suite struct APIServerEndpointTests {
    @Test func theTokenFileIsReadAgainAtEveryRequest() throws {
        let dir = TestSupport.temporaryDirectory("endpoint-token")
        try FileIO.writeAtomically(path: dir + "/token", bytes: Array("first\n".utf8))
        try FileIO.writeAtomically(path: dir + "/kubeconfig", bytes: Array("""
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            current-context: x
            users: [{name: u, user: {tokenFile: token}}]
            """.utf8))
        let direct = APIServerEndpoint(name: "local", url: "https://127.0.0.1:6443/metrics", bearerTokenFile: dir + "/token")
        let fromKubeconfig = try APIServerEndpoint.kubeconfig(dir + "/kubeconfig")
        #expect(try direct.currentToken() == "first" && fromKubeconfig.currentToken() == "first")
        try FileIO.writeAtomically(path: dir + "/token", bytes: Array("rotated".utf8))
        #expect(try direct.currentToken() == "rotated" && fromKubeconfig.currentToken() == "rotated")
    }
}
