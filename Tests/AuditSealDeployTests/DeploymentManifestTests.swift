@testable import AuditSealServer
@testable import AuditSealWatch
import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing
import Yams

/// deploy/: every overlay renders offline and validates against the Kubernetes schemas, its
/// config is one the receiver accepts, the DaemonSet is locked down as documented, and the alert
/// rules load, pass their unit tests and use only metrics the receiver exports.
@Suite(.tier(.process)) struct DeploymentManifestTests {
    static let root = TestSupport.packageRoot

    /// An executable on PATH (or in /usr/local/bin, /usr/bin), or nil with a loud message.
    static func tool(_ name: String, why: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/bin:/usr/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        FileHandle.standardError.write(Data("\n*** SKIPPING \(why): \(name) not found (.ci/run installs it) ***\n\n".utf8))
        return nil
    }

    static let kubectl = tool("kubectl", why: "rendering deploy/overlays")
    static let validator = tool("kubernetes-validate", why: "schema validation of the rendered manifests (pip install kubernetes-validate)")
    static let promtool = tool("promtool", why: "checking the alert rules (apt-get install prometheus)")

    /// The overlay's documents.
    static func render(_ overlay: String) throws -> (text: String, documents: [[String: Any]]) {
        let kubectl = try #require(Self.kubectl)
        let result = try TestSupport.run(kubectl, ["kustomize", root + "/deploy/overlays/" + overlay])
        #expect(result.status == 0, "\(result.stderr)")
        let documents = try Yams.load_all(yaml: result.stdout).compactMap { $0 as? [String: Any] }
        return (result.stdout, documents)
    }

    static func first(_ documents: [[String: Any]], kind: String) -> [String: Any]? {
        documents.first { $0["kind"] as? String == kind }
    }

    @Test(.enabled(if: kubectl != nil), arguments: ["local-only", "s3"])
    func overlayRendersValidatesAndIsLockedDown(_ overlay: String) throws {
        let (text, documents) = try Self.render(overlay)
        #expect(Set(documents.compactMap { $0["kind"] as? String }) == ["Namespace", "ConfigMap", "DaemonSet", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"])

        if let validator = Self.validator {
            let file = TestSupport.temporaryDirectory("kustomize") + "/\(overlay).yaml"
            try FileIO.writeAtomically(path: file, bytes: Array(text.utf8))
            let checked = try TestSupport.run(validator, ["--strict", "--kubernetes-version", "1.31.0", file])
            #expect(checked.status == 0, "\(checked.stdout)\(checked.stderr)")
            #expect(checked.stdout.components(separatedBy: " passed for resource ").count - 1 == documents.count, "\(checked.stdout)")
        }

        // Its identity may read the API server's /metrics (audit drop counters) and nothing else.
        let role = try #require(Self.first(documents, kind: "ClusterRole"))
        let rules = try #require(role["rules"] as? [[String: Any]])
        #expect(rules.count == 1 && rules[0]["nonResourceURLs"] as? [String] == ["/metrics"] && rules[0]["verbs"] as? [String] == ["get"]
                && rules[0]["resources"] == nil, "\(rules)")

        // The DaemonSet, as the README and OPERATIONS.md describe it.
        let daemonSet = try #require(Self.first(documents, kind: "DaemonSet"))
        let spec = try #require((daemonSet["spec"] as? [String: Any])?["template"] as? [String: Any])["spec"] as? [String: Any]
        let pod = try #require(spec)
        #expect(pod["hostNetwork"] as? Bool == true)
        #expect(pod["priorityClassName"] as? String == "system-node-critical")
        #expect((pod["nodeSelector"] as? [String: String])?.keys.contains("node-role.kubernetes.io/control-plane") == true)
        #expect(((pod["securityContext"] as? [String: Any])?["seccompProfile"] as? [String: Any])?["type"] as? String == "RuntimeDefault")
        let strategy = (daemonSet["spec"] as? [String: Any])?["updateStrategy"] as? [String: Any]
        #expect((strategy?["rollingUpdate"] as? [String: Any])?["maxUnavailable"] as? Int == 1)
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        #expect(container["image"] as? String == "localhost/auditseal:dev")
        let security = try #require(container["securityContext"] as? [String: Any])
        #expect((security["capabilities"] as? [String: Any])?["drop"] as? [String] == ["ALL"])
        #expect((security["capabilities"] as? [String: Any])?["add"] == nil)
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect(security["allowPrivilegeEscalation"] as? Bool == false)
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            #expect(((container[probe] as? [String: Any])?["httpGet"] as? [String: Any])?["port"] as? String == "ops", "\(probe)")
        }
        let resources = container["resources"] as? [String: [String: String]]
        #expect(resources?["requests"]?["memory"] != nil && resources?["limits"]?["memory"] != nil)

        // The config map's files are what the receiver loads (--config on the mounted directory), and every path in them is mounted.
        let configMap = try #require(Self.first(documents, kind: "ConfigMap"))
        let files = try #require(configMap["data"] as? [String: String])
        #expect(files["auditseal.yaml"] != nil, "\(files.keys)")
        let configDir = TestSupport.temporaryDirectory("kustomize-config")
        for (name, text) in files { try FileIO.writeAtomically(path: configDir + "/" + name, bytes: Array(text.utf8)) }
        var configuration = try ServeConfiguration.load(yamlFile: configDir)
        // Every setting of the base reaches the receiver unchanged, unless the overlay's own file names it.
        let baseText = String(decoding: try FileIO.readAll(path: Self.root + "/deploy/base/auditseal.yaml"), as: UTF8.self)
        let base = try ServeConfiguration.load(yaml: baseText, source: "base")
        let overlayKeys = Set(try files.filter { $0.key != "auditseal.yaml" }.flatMap { ((try Yams.load(yaml: $0.value) as? [String: Any]) ?? [:]).keys })
        let baseKeys = try #require(try Yams.load(yaml: baseText) as? [String: Any]).keys
        let encodedBase = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(base)) as? [String: Any])
        let encodedOverlay = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration)) as? [String: Any])
        for key in baseKeys where !overlayKeys.contains(key) {
            func canonical(_ v: Any?) throws -> String {
                String(decoding: try JSONSerialization.data(withJSONObject: [key: v ?? NSNull()], options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
            }
            #expect(try canonical(encodedBase[key]) == canonical(encodedOverlay[key]), "\(overlay) overlay changes the base's \(key)")
        }
        #expect(configuration.reconcile != nil && configuration.maxConnections == 1024 && configuration.segmentMaxAgeSeconds == 60)
        configuration.opsListen = "10.0.0.1:9443"  // what --ops-listen $(NODE_IP):9443 gives
        try configuration.validate()
        #expect(configuration.listen == "127.0.0.1:8443")  // the port `auditseal certs` writes into the kubeconfig
        #expect(configuration.allowedClientCNs == ["kube-apiserver"])
        #expect(configuration.autoCreateKey == false)
        let mounts = (container["volumeMounts"] as? [[String: Any]] ?? []).compactMap { $0["mountPath"] as? String }
        var paths = [configuration.dataDir, configuration.signingKey, configuration.tlsCert, configuration.tlsKey, configuration.clientCA].compactMap { $0 }
        if overlay == "s3" {
            #expect(configuration.s3Bucket != nil && configuration.s3LockMode == "COMPLIANCE")
            paths.append(try #require(configuration.s3CredentialsFile))
            #expect(configuration.s3Endpoint != nil && configuration.s3RetentionDays > 0)
        } else {
            #expect(configuration.s3Endpoint == nil)
            #expect(!mounts.contains("/etc/auditseal/s3"))
        }
        for path in paths {
            #expect(mounts.contains { path == $0 || path.hasPrefix($0 + "/") }, "\(path) is not under a volume mount: \(mounts)")
        }
        let args = container["args"] as? [String] ?? []
        #expect(args.starts(with: ["serve", "--config", "/etc/auditseal/config"]))
        #expect(mounts.contains("/etc/auditseal/config"))
    }

    @Test(.enabled(if: kubectl != nil))
    func watcherRendersAndValidates() throws {
        let documents = try Self.renderAndValidate("deploy/watcher")
        #expect(documents.compactMap { $0["kind"] as? String } == ["Deployment"])
        // Its arguments parse as `auditseal watch` arguments name them.
        let pod = ((documents[0]["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        let args = ((pod?["containers"] as? [[String: Any]])?.first?["args"] as? [String]) ?? []
        #expect(args.first == "watch" && args.contains { $0.hasPrefix("--public-key=") } && args.contains { $0.hasPrefix("--data-dir=") })
        let help = try TestSupport.run(TestSupport.product("auditseal"), ["watch", "--help"]).stdout
        for arg in args.dropFirst(2) { #expect(help.contains(String(arg.prefix { $0 != "=" })), "\(arg)") }
    }

    /// Each PodMonitor selects pods that exist as shipped: the receiver's DaemonSet and the watcher's
    /// Deployment (its own namespace), by their pod labels and a port of that name.
    @Test(.enabled(if: kubectl != nil))
    func podMonitorsSelectTheReceiverAndTheWatcher() throws {
        let kubectl = try #require(Self.kubectl)
        let monitoring = try Yams.load_all(yaml: try TestSupport.run(kubectl, ["kustomize", Self.root + "/deploy/monitoring"]).stdout).compactMap { $0 as? [String: Any] }
        let monitors = monitoring.filter { $0["kind"] as? String == "PodMonitor" }
        #expect(monitors.count == 2)
        for document in monitoring {
            #expect(((document["metadata"] as? [String: Any])?["labels"] as? [String: String])?["release"] != nil, "kube-prometheus-stack selects by release")
        }
        let workloads = [("local-only", "DaemonSet", "auditseal"), ("../watcher", "Deployment", "auditseal-watch")]
        for (folder, kind, namespace) in workloads {
            let rendered = try Yams.load_all(yaml: try TestSupport.run(kubectl, ["kustomize", Self.root + "/deploy/overlays/" + folder]).stdout).compactMap { $0 as? [String: Any] }
            let workload = try #require(Self.first(rendered, kind: kind))
            let template = try #require((workload["spec"] as? [String: Any])?["template"] as? [String: Any])
            let podLabels = (template["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
            let ports = (((template["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first?["ports"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            let podNamespace = (workload["metadata"] as? [String: Any])?["namespace"] as? String
            #expect(podNamespace == namespace)
            let matching = monitors.filter { monitor in
                let spec = monitor["spec"] as? [String: Any] ?? [:]
                let selector = (spec["selector"] as? [String: Any])?["matchLabels"] as? [String: String] ?? [:]
                let namespaces = (spec["namespaceSelector"] as? [String: Any])?["matchNames"] as? [String]
                    ?? [((monitor["metadata"] as? [String: Any])?["namespace"] as? String ?? "")]
                let port = ((spec["podMetricsEndpoints"] as? [[String: Any]])?.first?["port"] as? String) ?? ""
                return selector.allSatisfy { podLabels[$0.key] == $0.value } && namespaces.contains(namespace) && ports.contains(port)
            }
            #expect(matching.count == 1, "\(kind) in \(namespace) with labels \(podLabels) and ports \(ports) is scraped by \(matching.count) PodMonitors")
        }
    }

    /// deploy/maintenance runs a one-off command on a node's store with the receiver's own paths: its
    /// command and the alternatives its kustomization names parse as `auditseal` arguments, every
    /// path in them is mounted, and the DaemonSet leaves a node labelled for maintenance.
    @Test(.enabled(if: kubectl != nil))
    func maintenanceJobRunsCommandsWithTheReceiversMounts() throws {
        let documents = try Self.renderAndValidate("deploy/maintenance")
        let job = try #require(Self.first(documents, kind: "Job"))
        let pod = try #require(((job["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect(pod["nodeName"] as? String == "cp-1")
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let mounts = (container["volumeMounts"] as? [[String: Any]] ?? []).compactMap { $0["mountPath"] as? String }
        let kustomization = String(decoding: try FileIO.readAll(path: Self.root + "/deploy/maintenance/kustomization.yaml"), as: UTF8.self)
        var commands = [container["args"] as? [String] ?? []]
        for line in kustomization.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("#   [\"") {
            let json = line.drop { $0 != "[" }
            commands.append(try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]))
        }
        #expect(commands.count == 3)
        let binary = TestSupport.product("auditseal")
        for command in commands {
            let help = try TestSupport.run(binary, [command[0], "--help"]).stdout
            for flag in command.dropFirst() where flag.hasPrefix("--") { #expect(help.contains(flag), "\(command[0]) has no \(flag)") }
            // Every command names the node: a pod's host name need not be the node's name.
            #expect(command.contains("--node") && command.contains("$(NODE_NAME)"), "\(command)")
            for path in command where path.hasPrefix("/") {
                #expect(mounts.contains { path == $0 || path.hasPrefix($0 + "/") }, "\(path) is not under a mount: \(mounts)")
            }
        }
        // The receiver's DaemonSet steps aside on a node labelled for maintenance.
        let daemonSet = try #require(Self.first(try Self.render("local-only").documents, kind: "DaemonSet"))
        let affinity = (((daemonSet["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["affinity"] as? [String: Any]
        let terms = ((affinity?["nodeAffinity"] as? [String: Any])?["requiredDuringSchedulingIgnoredDuringExecution"] as? [String: Any])?["nodeSelectorTerms"] as? [[String: Any]]
        let expressions = terms?.first?["matchExpressions"] as? [[String: Any]] ?? []
        #expect(expressions.contains { $0["key"] as? String == "auditseal.io/maintenance" && $0["operator"] as? String == "DoesNotExist" })
    }

    @Test(.enabled(if: kubectl != nil))
    func verifyJobRendersAndValidates() throws {
        let documents = try Self.renderAndValidate("deploy/verify-job")
        #expect(documents.compactMap { $0["kind"] as? String } == ["Job"])
        let spec = documents[0]["spec"] as? [String: Any] ?? [:]
        #expect(spec["completionMode"] as? String == "Indexed")
        let completions = spec["completions"] as? Int ?? 0
        let pod = (spec["template"] as? [String: Any])?["spec"] as? [String: Any]
        let args = ((pod?["containers"] as? [[String: Any]])?.first?["args"] as? [String]) ?? []
        // The shard is the completion index (expanded by Kubernetes) of `completions` shards.
        #expect(args.contains("--shard=$(JOB_COMPLETION_INDEX)/\(completions)"), "\(args)")
        #expect(args.first == "verify" && args.contains("--json"))
        let help = try TestSupport.run(TestSupport.product("auditseal"), ["verify", "--help"]).stdout
        for arg in args.dropFirst(2) { #expect(help.contains(String(arg.prefix { $0 != "=" })), "\(arg)") }
    }

    /// A kustomization rendered by kubectl and, when kubernetes-validate is there, checked strictly.
    static func renderAndValidate(_ folder: String) throws -> [[String: Any]] {
        let kubectl = try #require(Self.kubectl)
        let result = try TestSupport.run(kubectl, ["kustomize", Self.root + "/" + folder])
        #expect(result.status == 0, "\(result.stderr)")
        if let validator = Self.validator {
            let file = TestSupport.temporaryDirectory("kustomize") + "/rendered.yaml"
            try FileIO.writeAtomically(path: file, bytes: Array(result.stdout.utf8))
            let checked = try TestSupport.run(validator, ["--strict", "--kubernetes-version", "1.31.0", file])
            #expect(checked.status == 0, "\(folder): \(checked.stdout)\(checked.stderr)")
        }
        return try Yams.load_all(yaml: result.stdout).compactMap { $0 as? [String: Any] }
    }

    static func rules() throws -> [[String: Any]] {
        let text = String(decoding: try FileIO.readAll(path: root + "/deploy/monitoring/auditseal.rules.yml"), as: UTF8.self)
        return (try Yams.load(yaml: text) as? [String: Any])?["groups"] as? [[String: Any]] ?? []
    }

    @Test(.enabled(if: promtool != nil))
    func alertRulesLoadAndPassTheirUnitTests() throws {
        let promtool = try #require(Self.promtool)
        let check = try TestSupport.run(promtool, ["check", "rules", Self.root + "/deploy/monitoring/auditseal.rules.yml"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("SUCCESS: 21 rules found"), "\(check.stdout)")
        let unit = try TestSupport.run(promtool, ["test", "rules", "auditseal.rules.test.yml"], in: Self.root + "/deploy/monitoring")
        #expect(unit.status == 0, "\(unit.stdout)\(unit.stderr)")
        // The operator's copy is promtool-clean too (its spec is a rule file).
        let operatorRule = String(decoding: try FileIO.readAll(path: Self.root + "/deploy/monitoring/prometheusrule.yaml"), as: UTF8.self)
        let spec = try #require((try Yams.load(yaml: operatorRule) as? [String: Any])?["spec"] as? [String: Any])
        let specFile = TestSupport.temporaryDirectory("rules") + "/spec.yml"
        try FileIO.writeAtomically(path: specFile, bytes: Array(try Yams.dump(object: spec).utf8))
        #expect(try TestSupport.run(promtool, ["check", "rules", specFile]).status == 0)
    }

    @Test func prometheusRuleMatchesThePlainRuleFile() throws {
        let operatorRule = String(decoding: try FileIO.readAll(path: Self.root + "/deploy/monitoring/prometheusrule.yaml"), as: UTF8.self)
        let groups = ((try Yams.load(yaml: operatorRule) as? [String: Any])?["spec"] as? [String: Any])?["groups"] as? [[String: Any]]
        let plain = try Self.rules()
        #expect(plain.count == 5)
        #expect(NSDictionary(dictionary: ["g": groups ?? []]).isEqual(to: ["g": plain]))
    }

    /// Every metric name the receiver, shipping and watcher registries export, and those the
    /// services emit through swift-metrics (into the same registry once `serve` bootstraps it).
    static func exportedMetrics() throws -> Set<String> {
        let metrics = ReceiverMetrics()
        metrics.countBatch(code: 200)
        let watch = WatchMetrics()
        watch.store(node: "n", chain: "c", treeSize: 1, secondsSinceManifest: 1, lag: 1)
        watch.finding(WatchFinding(kind: "k", node: "n", chainID: "c", file: nil, sequence: nil, message: "", seenAt: Date()))
        let text = String(decoding: metrics.render() + watch.render(), as: UTF8.self)
        var exported = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        let labelled = try NSRegularExpression(pattern: #"(?:Counter|Gauge|Recorder|Timer)\(label: "(auditseal_[a-z0-9_]+)""#)
        for file in FileManager.default.enumerator(atPath: Self.root + "/Sources")!.compactMap({ $0 as? String }) where file.hasSuffix(".swift") {
            let source = String(decoding: try FileIO.readAll(path: Self.root + "/Sources/" + file), as: UTF8.self)
            for match in labelled.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                exported.insert(String(source[Range(match.range(at: 1), in: source)!]))
            }
        }
        return exported
    }

    /// The auditseal_* names an expression uses.
    static func metricNames(in expr: String) throws -> Set<String> {
        let regex = try NSRegularExpression(pattern: "auditseal_[a-z0-9_]+")
        return Set(regex.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)).map { String(expr[Range($0.range, in: expr)!]) })
    }

    /// deploy/monitoring's Grafana dashboard loads, and plots only exported metrics.
    @Test func theGrafanaDashboardPlotsExportedMetrics() throws {
        let text = try FileIO.readAll(path: Self.root + "/deploy/monitoring/grafana-dashboard.json")
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(text)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        var used = Set<String>()
        for panel in panels {
            let targets = panel["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "\(panel["title"] ?? "?")")
            for target in targets { used.formUnion(try Self.metricNames(in: target["expr"] as? String ?? "")) }
        }
        let exported = try Self.exportedMetrics()
        #expect(used.count >= 15)
        #expect(used.subtracting(exported).isEmpty, "not exported: \(used.subtracting(exported).sorted())")
        if let kubectl = Self.kubectl {
            let rendered = try TestSupport.run(kubectl, ["kustomize", Self.root + "/deploy/monitoring"]).stdout
            #expect(rendered.contains("grafana_dashboard: \"1\"") && rendered.contains("grafana-dashboard.json:"))
        }
    }

    @Test func alertRulesUseOnlyExportedMetrics() throws {
        let exported = try Self.exportedMetrics()
        #expect(exported.count >= 25)
        var used = Set<String>()
        for group in try Self.rules() {
            for rule in group["rules"] as? [[String: Any]] ?? [] {
                used.formUnion(try Self.metricNames(in: rule["expr"] as? String ?? ""))
                #expect((rule["labels"] as? [String: String])?["severity"] != nil)
            }
        }
        #expect(used.count >= 12)
        #expect(used.subtracting(exported).isEmpty, "not exported: \(used.subtracting(exported).sorted())")
    }
}
