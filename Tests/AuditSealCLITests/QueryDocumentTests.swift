import AuditSealCore
import AuditSealTestSupport
import Foundation
import Testing

/// docs/QUERY.md's DuckDB queries, run by DuckDB (PyPI) over a store of the corpus's real events,
/// give the same answers as `auditseal cat` with the filters the document names.
@Suite(.tier(.process)) struct QueryDocumentTests {
    static let duckdb: Bool = (try? TestSupport.run("/usr/bin/env", ["python3", "-c", "import duckdb"]).status) == 0

    /// The named SQL blocks of docs/QUERY.md.
    static func queries() throws -> [String: String] {
        let text = String(decoding: try FileIO.readAll(path: TestSupport.packageRoot + "/docs/QUERY.md"), as: UTF8.self)
        var out = [String: String]()
        var rest = text[...]
        while let marker = rest.range(of: "<!-- query: ") {
            let name = String(rest[marker.upperBound...].prefix { $0 != " " })
            guard let open = rest[marker.upperBound...].range(of: "```sql\n"), let close = rest[open.upperBound...].range(of: "```") else { break }
            out[name] = String(rest[open.upperBound..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        return out
    }

    /// Runs a query with DuckDB over the store's segments; rows as JSON objects.
    static func duck(_ sql: String, segments: String) throws -> [[String: Any]] {
        let script = """
            import duckdb, json, sys
            sql = sys.stdin.read()
            rows = duckdb.sql(sql)
            cols = rows.columns
            print(json.dumps([dict(zip(cols, [str(v) if v is not None and not isinstance(v, (int, float, str)) else v for v in r])) for r in rows.fetchall()]))
            """
        let dir = TestSupport.temporaryDirectory("duck")
        try FileIO.writeAtomically(path: dir + "/q.sql", bytes: Array(sql.replacingOccurrences(of: "auditseal-data/segments", with: segments).utf8))
        let r = try TestSupport.run("/bin/sh", ["-c", "python3 -c '\(script.replacingOccurrences(of: "'", with: "'\\''"))' < \(dir)/q.sql"])
        guard r.status == 0, let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] else {
            throw AuditSealError(.usage, "duckdb failed: \(r.stderr)")
        }
        return rows
    }

    static func catIDs(_ dir: String, _ args: [String]) throws -> [String] {
        let r = try TestSupport.run(TestSupport.product("auditseal"), ["cat", dir + "/data", "--public-key", dir + "/signing.key.pub"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["auditID"] as? String }
    }

    @Test(.enabled(if: duckdb, "needs DuckDB from PyPI (python3 -m pip install duckdb; .ci/run installs it)"))
    func documentedQueriesAgreeWithCat() async throws {
        let (dir, lines) = try await CatCommandTests.store()
        let segments = dir + "/data/segments"
        let q = try Self.queries()
        #expect(Set(q.keys) == ["deletes", "exec", "rbac", "denied", "by-user-hour"])

        func ids(_ rows: [[String: Any]]) -> [String] { rows.compactMap { $0["auditID"] as? String }.sorted() }
        let deletes = try Self.duck(q["deletes"]!, segments: segments)
        let catDeletes = try Self.catIDs(dir, ["--verb", "delete"]).sorted()
        #expect(!deletes.isEmpty && ids(deletes) == catDeletes)
        let exec = try Self.duck(q["exec"]!, segments: segments)
        let catExec = try Self.catIDs(dir, ["--resource", "pods/exec"]).sorted()
        #expect(!exec.isEmpty && ids(exec) == catExec)
        let rbac = try Self.duck(q["rbac"]!, segments: segments)
        let rbacArgs = ["roles", "rolebindings", "clusterroles", "clusterrolebindings"].flatMap { ["--resource", "\($0).rbac.authorization.k8s.io"] }
            + ["create", "update", "patch", "delete", "deletecollection"].flatMap { ["--verb", $0] }
        let catRBAC = try Self.catIDs(dir, rbacArgs).sorted()
        #expect(!rbac.isEmpty && ids(rbac) == catRBAC)
        let denied = try Self.duck(q["denied"]!, segments: segments)
        let catDenied = try Self.catIDs(dir, ["--status", "403"]).sorted()
        #expect(!denied.isEmpty && ids(denied) == catDenied)

        // Per user and hour: DuckDB's counts against cat's lines counted here.
        let perHour = try Self.duck(q["by-user-hour"]!, segments: segments)
        var counted = [String: Int]()
        let r = try TestSupport.run(TestSupport.product("auditseal"), ["cat", dir + "/data", "--public-key", dir + "/signing.key.pub"])
        for line in r.stdout.split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let t = o["stageTimestamp"] as? String else { continue }
            let user = (o["user"] as? [String: Any])?["username"] as? String ?? "null"
            counted["\(user) \(t.prefix(13))", default: 0] += 1
        }
        var ducked = [String: Int]()
        for row in perHour {
            let hour = (row["hour"] as? String ?? "").replacingOccurrences(of: " ", with: "T").prefix(13)
            ducked["\(row["user"] as? String ?? "null") \(hour)"] = row["events"] as? Int
        }
        #expect(!ducked.isEmpty && ducked == counted, "\(ducked) vs \(counted)")
        #expect(counted.values.reduce(0, +) <= lines.count)
    }
}
