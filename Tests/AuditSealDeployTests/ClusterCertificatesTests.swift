import AuditSealCore
import AuditSealDeploy
import AuditSealTestSupport
import Foundation
import Testing
import Yams

/// `auditseal certs`: a CA and two leaves that openssl accepts for their purposes, private files
/// 0600, a kubeconfig with everything embedded, and renewal that keeps the CA.
@Suite struct ClusterCertificatesTests {
    static func openssl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run("/usr/bin/openssl", arguments)
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test func createsCertificatesThatOpenSSLVerifiesForTheirPurpose() throws {
        let dir = TestSupport.temporaryDirectory("certs")
        let outcome = try ClusterCertificates(options: .init(directory: dir)).run()
        #expect(outcome.created == ["ca.crt", "tls.crt", "apiserver.crt", "webhook-kubeconfig.yaml"])
        for key in ["ca.key", "tls.key", "apiserver.key", "webhook-kubeconfig.yaml"] { #expect(Self.mode(dir + "/" + key) == 0o600, "\(key)") }
        for cert in ["ca.crt", "tls.crt", "apiserver.crt"] { #expect(Self.mode(dir + "/" + cert) == 0o644) }

        let server = try Self.openssl(["verify", "-purpose", "sslserver", "-verify_ip", "127.0.0.1", "-verify_hostname", "localhost", "-CAfile", dir + "/ca.crt", dir + "/tls.crt"])
        #expect(server.status == 0, "\(server.stdout)\(server.stderr)")
        let client = try Self.openssl(["verify", "-purpose", "sslclient", "-CAfile", dir + "/ca.crt", dir + "/apiserver.crt"])
        #expect(client.status == 0, "\(client.stdout)\(client.stderr)")
        // Neither leaf can act as the other, and neither is a CA.
        #expect(try Self.openssl(["verify", "-purpose", "sslserver", "-CAfile", dir + "/ca.crt", dir + "/apiserver.crt"]).status != 0)
        #expect(try Self.openssl(["verify", "-purpose", "sslclient", "-CAfile", dir + "/ca.crt", dir + "/tls.crt"]).status != 0)
        #expect(try Self.openssl(["verify", "-CAfile", dir + "/tls.crt", dir + "/apiserver.crt"]).status != 0)
        let subject = try Self.openssl(["x509", "-in", dir + "/apiserver.crt", "-noout", "-subject"]).stdout
        #expect(subject.contains("CN = kube-apiserver"), "\(subject)")
        // Each key belongs to its certificate.
        for name in ["ca", "tls", "apiserver"] {
            let fromCert = try Self.openssl(["x509", "-in", dir + "/\(name).crt", "-noout", "-pubkey"]).stdout
            let fromKey = try Self.openssl(["pkey", "-in", dir + "/\(name).key", "-pubout"]).stdout
            #expect(fromCert == fromKey && !fromKey.isEmpty, "\(name)")
        }

        // The kubeconfig embeds exactly these files and points at the loopback listener.
        let kubeconfig = try Yams.load(yaml: String(decoding: try FileIO.readAll(path: dir + "/webhook-kubeconfig.yaml"), as: UTF8.self)) as? [String: Any]
        let cluster = ((kubeconfig?["clusters"] as? [[String: Any]])?.first?["cluster"]) as? [String: Any]
        let user = ((kubeconfig?["users"] as? [[String: Any]])?.first?["user"]) as? [String: Any]
        #expect(cluster?["server"] as? String == "https://127.0.0.1:8443/v1/audit")
        func decoded(_ value: Any?) -> String { String(decoding: Data(base64Encoded: value as? String ?? "") ?? Data(), as: UTF8.self) }
        func file(_ name: String) throws -> String { String(decoding: try FileIO.readAll(path: dir + "/" + name), as: UTF8.self) }
        #expect(decoded(cluster?["certificate-authority-data"]) == (try file("ca.crt")))
        #expect(decoded(user?["client-certificate-data"]) == (try file("apiserver.crt")))
        #expect(decoded(user?["client-key-data"]) == (try file("apiserver.key")))
    }

    @Test func renewsLeavesDueForRenewalAndKeepsTheCA() throws {
        let dir = TestSupport.temporaryDirectory("certs-renew")
        var options = ClusterCertificates.Options(directory: dir)
        options.leafDays = 40
        _ = try ClusterCertificates(options: options).run()
        let ca = try FileIO.readAll(path: dir + "/ca.crt")
        let server = try FileIO.readAll(path: dir + "/tls.crt")

        // Nothing is due: everything kept, byte for byte.
        let again = try ClusterCertificates(options: options).run()
        #expect(again.created.isEmpty && again.renewed.isEmpty)
        #expect(try FileIO.readAll(path: dir + "/tls.crt") == server)

        // Eleven days later both leaves are within 30 days of their end: renewed, the CA kept.
        options.now = Date().addingTimeInterval(11 * 86_400)
        let later = try ClusterCertificates(options: options).run()
        #expect(later.renewed == ["tls.crt", "apiserver.crt", "webhook-kubeconfig.yaml"])
        #expect(later.kept == ["ca.crt"])
        #expect(try FileIO.readAll(path: dir + "/ca.crt") == ca)
        #expect(try FileIO.readAll(path: dir + "/tls.crt") != server)
        let verified = try Self.openssl(["verify", "-attime", String(Int(options.now.timeIntervalSince1970)), "-CAfile", dir + "/ca.crt", dir + "/tls.crt", dir + "/apiserver.crt"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

        // A new server address reissues the server certificate only.
        options.serverIP = "::1"
        let moved = try ClusterCertificates(options: options).run()
        #expect(moved.renewed == ["tls.crt", "webhook-kubeconfig.yaml"])
        let text = try Self.openssl(["x509", "-in", dir + "/tls.crt", "-noout", "-ext", "subjectAltName"]).stdout
        #expect(text.contains("IP Address:0:0:0:0:0:0:0:1"), "\(text)")
        #expect(String(decoding: try FileIO.readAll(path: dir + "/webhook-kubeconfig.yaml"), as: UTF8.self).contains("server: https://[::1]:8443/v1/audit"))
    }

    @Test func refusesWhatItCannotDo() throws {
        let dir = TestSupport.temporaryDirectory("certs-refuse")
        var options = ClusterCertificates.Options(directory: dir)
        options.serverIP = "localhost"
        #expect(throws: AuditSealError.self) { try ClusterCertificates(options: options).run() }
        options.serverIP = "127.0.0.1"
        options.caDays = 20
        _ = try ClusterCertificates(options: .init(directory: dir)).run()
        // A CA that expires within the renewal window is not silently replaced.
        let short = TestSupport.temporaryDirectory("certs-short-ca")
        var shortOptions = ClusterCertificates.Options(directory: short)
        shortOptions.caDays = 20
        shortOptions.leafDays = 10
        shortOptions.renewWithinDays = 5
        _ = try ClusterCertificates(options: shortOptions).run()
        shortOptions.now = Date().addingTimeInterval(16 * 86_400)
        #expect { try ClusterCertificates(options: shortOptions).run() } throws: { error in
            (error as? AuditSealError)?.reason.contains("rotate it by hand") == true
        }
    }
}
