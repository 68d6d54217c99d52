import AuditSealCore
import AuditSealDeploy
import AuditSealTestSupport
import Foundation
import Testing
import Yams

/// deploy/apiserver: the kubeadm patch and the kind configuration give the API server the same
/// flags, every file a flag names is mounted into the API server's pod, and the files mounted are
/// the ones `auditseal certs` and policies/ provide.
@Suite struct APIServerWiringTests {
    static let root = TestSupport.packageRoot

    static func yaml(_ relative: String) throws -> [String: Any] {
        let text = String(decoding: try FileIO.readAll(path: root + "/" + relative), as: UTF8.self)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    /// kubeadm v1beta4's extraArgs list, or kind's (v1beta3-style) map, as one map.
    static func arguments(_ apiServer: [String: Any]) -> [String: String] {
        if let list = apiServer["extraArgs"] as? [[String: Any]] {
            return Dictionary(uniqueKeysWithValues: list.map { ($0["name"] as? String ?? "", "\($0["value"] ?? "")") })
        }
        return (apiServer["extraArgs"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
    }

    @Test func kubeadmAndKindWireTheSameFlagsAndMountWhatTheyName() throws {
        let kubeadm = try #require(try Self.yaml("deploy/apiserver/kubeadm-clusterconfiguration.yaml")["apiServer"] as? [String: Any])
        let kind = try Self.yaml("deploy/apiserver/kind-cluster.yaml")
        let node = try #require((kind["nodes"] as? [[String: Any]])?.first)
        let patchText = try #require((node["kubeadmConfigPatches"] as? [String])?.first)
        let kindAPIServer = try #require((try Yams.load(yaml: patchText) as? [String: Any])?["apiServer"] as? [String: Any])

        let flags = Self.arguments(kubeadm)
        #expect(flags == Self.arguments(kindAPIServer))
        for flag in ["audit-policy-file", "audit-webhook-config-file", "audit-webhook-batch-max-size", "audit-webhook-initial-backoff", "audit-log-path"] {
            #expect(flags[flag] != nil, "\(flag)")
        }
        #expect(flags["audit-webhook-mode"] == "batch")  // never blocks API requests

        // Every path a flag names is inside a volume mounted into the API server's pod.
        let volumes = try #require(kubeadm["extraVolumes"] as? [[String: Any]])
        #expect(NSArray(array: volumes).isEqual(to: kindAPIServer["extraVolumes"] as? [[String: Any]] ?? []))
        for flag in ["audit-policy-file", "audit-webhook-config-file", "audit-log-path"] {
            let path = try #require(flags[flag])
            let volume = volumes.first { path.hasPrefix(($0["mountPath"] as? String ?? "") + "/") }
            #expect(volume != nil, "\(flag)=\(path) is not mounted")
            #expect((volume?["readOnly"] as? Bool) == (flag != "audit-log-path"), "\(flag)")
        }

        // kind mounts exactly the two input files, from where `auditseal certs` and policies/ put them.
        let mounts = try #require(node["extraMounts"] as? [[String: Any]])
        let byTarget = Dictionary(uniqueKeysWithValues: mounts.map { ($0["containerPath"] as? String ?? "", $0["hostPath"] as? String ?? "") })
        #expect(Set(byTarget.keys) == [try #require(flags["audit-policy-file"]), try #require(flags["audit-webhook-config-file"])])
        let policy = try #require(byTarget[flags["audit-policy-file"]!])
        let policyText = String(decoding: try FileIO.readAll(path: Self.root + "/" + policy), as: UTF8.self)
        #expect(PolicyChecker.check(try AuditPolicy(yaml: policyText)).isEmpty)
        let kubeconfig = try #require(byTarget[flags["audit-webhook-config-file"]!])
        let certsDir = TestSupport.temporaryDirectory("kind-certs")
        _ = try ClusterCertificates(options: .init(directory: certsDir)).run()
        #expect(FileIO.exists(certsDir + "/" + (kubeconfig as NSString).lastPathComponent))
        #expect(kubeconfig.hasPrefix("deploy/apiserver/kind-certs/"))
    }
}
