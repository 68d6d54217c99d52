import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// `auditseal cat` and `status` (the real binary) on a store of the real events of the corpus:
/// each filter alone and combined against an independent oracle (Foundation's JSON parser over the
/// stored lines), every output format, refusal of a tampered segment, and status output.
@Suite(.serialized, .tier(.process)) struct CatCommandTests {
    static var auditseal: String { TestSupport.product("auditseal") }

    /// The corpus, sealed into three segments; the stored lines in chain order.
    static func store(_ label: String = #function) async throws -> (dir: String, lines: [String]) {
        let dir = TestSupport.temporaryDirectory(label)
        let (key, _) = try TestSupport.signingKey(in: dir)
        var config = StoreConfiguration(dataDirectory: dir + "/data", nodeName: "cp-1")
        config.segmentMaxBytes = 1 << 30
        let store = try AuditStore(configuration: config, signingKey: key)
        let batch = try TestSupport.corpusEvents()
        let third = batch.count / 3
        for (start, end) in [(0, third), (third, 2 * third), (2 * third, batch.count)] {
            _ = try await store.append(batch.slice(start..<end))
            try await store.sealNow()
        }
        try await store.close()
        return (dir, try TestSupport.storedLines(dir + "/data"))
    }

    static func cat(_ dir: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(auditseal, ["cat", dir + "/data", "--public-key", dir + "/signing.key.pub"] + args)
    }

    /// The oracle: the stored lines whose parsed JSON satisfies `predicate`.
    static func expected(_ lines: [String], _ predicate: ([String: Any]) -> Bool) -> [String] {
        lines.filter { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return false }
            return predicate(o)
        }
    }

    static func ref(_ o: [String: Any], _ k: String) -> String? { (o["objectRef"] as? [String: Any])?[k] as? String }
    static func user(_ o: [String: Any]) -> [String: Any] { o["user"] as? [String: Any] ?? [:] }
    static func code(_ o: [String: Any]) -> Int? { (o["responseStatus"] as? [String: Any])?["code"] as? Int }

    @Test func eachFilterAloneAndCombinedMatchesTheOracle() async throws {
        let (dir, lines) = try await Self.store()
        #expect(lines.count >= 80)
        let all = try Self.cat(dir, [])
        #expect(all.status == 0, "\(all.stderr)")
        let printed = all.stdout.split(separator: "\n").map(String.init)
        #expect(Set(printed) == Set(lines) && printed.count == lines.count, "json output is the stored lines, byte for byte")

        let cases: [([String], ([String: Any]) -> Bool)] = [
            (["--verb", "delete"], { $0["verb"] as? String == "delete" }),
            (["--verb", "create", "--verb", "delete"], { ["create", "delete"].contains($0["verb"] as? String ?? "") }),
            (["--user", "minikube-user"], { Self.user($0)["username"] as? String == "minikube-user" }),
            (["--group", "system:masters"], { (Self.user($0)["groups"] as? [String] ?? []).contains("system:masters") }),
            (["--namespace", "default"], { Self.ref($0, "namespace") == "default" }),
            (["--resource", "pods"], { Self.ref($0, "resource") == "pods" && Self.ref($0, "subresource") == nil }),
            (["--resource", "pods/exec"], { Self.ref($0, "resource") == "pods" && Self.ref($0, "subresource") == "exec" }),
            (["--resource", "pods/*"], { Self.ref($0, "resource") == "pods" && Self.ref($0, "subresource") != nil }),
            (["--resource", "clusterroles.rbac.authorization.k8s.io"], { Self.ref($0, "resource") == "clusterroles" && Self.ref($0, "apiGroup") == "rbac.authorization.k8s.io" && Self.ref($0, "subresource") == nil }),
            (["--name", "nginx-deployment"], { Self.ref($0, "name") == "nginx-deployment" }),
            (["--user-agent", "kubectl"], { ($0["userAgent"] as? String ?? "").contains("kubectl") }),
            (["--kubectl"], { ($0["userAgent"] as? String ?? "").hasPrefix("kubectl/") }),
            (["--status", "403"], { Self.code($0) == 403 }),
            (["--status", "2xx"], { (Self.code($0) ?? 0) / 100 == 2 }),
            (["--status", "4xx"], { (Self.code($0) ?? 0) / 100 == 4 }),
            (["--stage", "ResponseComplete"], { $0["stage"] as? String == "ResponseComplete" }),
            (["--level", "RequestResponse"], { $0["level"] as? String == "RequestResponse" }),
            (["--verb", "list", "--status", "4xx"], { $0["verb"] as? String == "list" && (Self.code($0) ?? 0) / 100 == 4 }),
            (["--verb", "create", "--namespace", "default", "--kubectl"], { $0["verb"] as? String == "create" && Self.ref($0, "namespace") == "default" && ($0["userAgent"] as? String ?? "").hasPrefix("kubectl/") }),
        ]
        for (args, predicate) in cases {
            let want = Self.expected(lines, predicate)
            let got = try Self.cat(dir, args)
            #expect(got.status == 0, "\(args): \(got.stderr)")
            let gotLines = got.stdout.split(separator: "\n").map(String.init)
            // One node: its chain's order (stores merge by time across nodes).
            #expect(gotLines == want, "\(args): \(gotLines.count) lines vs \(want.count) expected")
            #expect(!want.isEmpty || args == ["--verb", "list", "--status", "4xx"], "\(args) matches nothing in the corpus: a useless case")
        }
        // An auditID (every stage of it), and a time window.
        let someID = try #require((try JSONSerialization.jsonObject(with: Data(lines[5].utf8)) as? [String: Any])?["auditID"] as? String)
        let byID = try Self.cat(dir, ["--audit-id", someID])
        #expect(byID.stdout.split(separator: "\n").map(String.init) == Self.expected(lines) { $0["auditID"] as? String == someID })
        let times = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["stageTimestamp"] as? String }.sorted()
        let (lo, hi) = (times[times.count / 4], times[times.count * 3 / 4])
        let window = try Self.cat(dir, ["--since", lo, "--until", hi])
        let inWindow = Self.expected(lines) { o in
            guard let t = (o["stageTimestamp"] as? String).flatMap(Timestamp.parse) else { return false }
            return t >= Timestamp.parse(lo)! && t <= Timestamp.parse(hi)!
        }
        let windowLines = window.stdout.split(separator: "\n").map(String.init)
        #expect(windowLines.count == inWindow.count, "window counts")
        for extra in Set(windowLines).subtracting(inWindow) { Issue.record("extra: \(extra.suffix(400))") }
        for missing in Set(inWindow).subtracting(windowLines) { Issue.record("missing: \(missing.suffix(400))") }
        #expect(windowLines == inWindow, "window \(lo)...\(hi): \(windowLines.count) lines vs \(inWindow.count) expected; extra \(Set(windowLines).subtracting(inWindow).map { $0.prefix(300) }), missing \(Set(inWindow).subtracting(windowLines).map { $0.prefix(300) })")
        #expect(try Self.cat(dir, ["--since", "1h"]).stdout.isEmpty, "the corpus is years old")
        #expect(try Self.cat(dir, ["--status", "4zz"]).status != 0)
    }

    @Test func tableAndKubectlOutputs() async throws {
        let (dir, lines) = try await Self.store()
        let table = try Self.cat(dir, ["--output", "table"])
        let rows = table.stdout.split(separator: "\n").map(String.init)
        #expect(rows.first?.hasPrefix("TIME") == true && rows.count == lines.count + 1)
        #expect(rows.contains { $0.contains("delete") && $0.contains("deployments") })
        let kubectl = try Self.cat(dir, ["--output", "kubectl", "--verb", "delete"])
        let commands = kubectl.stdout.split(separator: "\n").map(String.init)
        #expect(!commands.isEmpty && commands.allSatisfy { $0.contains("  kubectl delete ") && $0.contains("  -> ") }, "\(commands)")
        #expect(commands.contains { $0.contains("kubectl delete deployment nginx-deployment -n default") }, "\(commands)")
        let exec = try Self.cat(dir, ["-o", "kubectl", "--resource", "pods/exec"])
        #expect(exec.stdout.contains("kubectl exec "), "\(exec.stdout)")
        #expect(try Self.cat(dir, ["-o", "yaml"]).status != 0)
    }

    @Test func aTamperedSegmentStopsTheOutputAndNamesIt() async throws {
        let (dir, _) = try await Self.store()
        let seg = dir + "/data/segments/000000000002.jsonl.gz"
        var text = String(decoding: try GzipDecompressor.gunzip(try FileIO.readAll(path: seg)), as: UTF8.self)
        let victim = try #require(text.range(of: "\"verb\":\"create\"") ?? text.range(of: "\"verb\":\"get\""))
        text.replaceSubrange(victim, with: "\"verb\":\"patch\"")
        chmod(seg, 0o644)
        try FileIO.writeAtomically(path: seg, bytes: try GzipCompressor.gzip(Array(text.utf8)))
        let r = try Self.cat(dir, [])
        #expect(r.status == 1)
        #expect(r.stderr.contains("segments/000000000002.jsonl.gz"), "\(r.stderr)")
        #expect(!r.stdout.contains("\"verb\":\"patch\"") || !text.contains("\"verb\":\"patch\""), "nothing of the tampered segment is printed")
        // Only what the first segment holds was printed before the stop.
        let first = String(decoding: try GzipDecompressor.gunzip(try FileIO.readAll(path: dir + "/data/segments/000000000001.jsonl.gz")), as: UTF8.self)
        #expect(Set(r.stdout.split(separator: "\n")).isSubset(of: Set(first.split(separator: "\n"))))
        // --no-verify prints it, and says so.
        let unchecked = try Self.cat(dir, ["--no-verify"])
        #expect(unchecked.status == 0 && unchecked.stderr.contains("WITHOUT verification"))
        #expect(unchecked.stdout.contains("\"verb\":\"patch\""))
    }

    @Test func statusShowsTheStore() async throws {
        let (dir, lines) = try await Self.store()
        let text = try TestSupport.run(Self.auditseal, ["status", dir + "/data"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("cp-1") && text.stdout.contains("events:        \(lines.count) (\(lines.count) sealed"), "\(text.stdout)")
        #expect(text.stdout.contains("3 segments"))
        let json = try TestSupport.run(Self.auditseal, ["status", dir + "/data", "--json"])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(o["events"] as? Int == lines.count && o["segments"] as? Int == 3 && o["lastManifestClosing"] as? Bool == true)
        #expect((o["keyIDs"] as? [String])?.count == 1)
        #expect(o["firstEventTime"] is String && o["lastEventTime"] is String)
    }

    /// A manifest that is not JSON: `status` and `cat --no-verify` show the other segments and name
    /// it; `cat` (verifying) stops before that segment, naming it.
    @Test func anUnreadableManifestIsNamedAndTheRestShown() async throws {
        let (dir, _) = try await Self.store()
        let manifest = dir + "/data/segments/000000000002.manifest.json"
        chmod(manifest, 0o644)
        try FileIO.writeAtomically(path: manifest, bytes: Array("{\"format\":".utf8))
        let status = try TestSupport.run(Self.auditseal, ["status", dir + "/data"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("2 segments") && status.stdout.contains("left out:      1 manifest(s)"), "\(status.stdout)")
        #expect(status.stdout.contains("segments/000000000002.manifest.json: "))
        let unchecked = try Self.cat(dir, ["--no-verify"])
        #expect(unchecked.status == 0)
        #expect(unchecked.stderr.contains("left out: segments/000000000002.manifest.json: "), "\(unchecked.stderr)")
        let lines = { (n: Int) throws in
            String(decoding: try GzipDecompressor.gunzip(try FileIO.readAll(path: dir + "/data/segments/00000000000\(n).jsonl.gz")), as: UTF8.self)
                .split(separator: "\n").map(String.init)
        }
        #expect(Set(unchecked.stdout.split(separator: "\n").map(String.init)) == Set(try lines(1) + lines(3)))
        let checked = try Self.cat(dir, [])
        #expect(checked.status == 1 && checked.stderr.contains("000000000002"), "\(checked.stderr)")
    }
}
