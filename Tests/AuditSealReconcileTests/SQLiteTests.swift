import AuditSealCore
@testable import AuditSealReconcile
import AuditSealTestSupport
import FoundationEssentials
import Testing

/// The SQLite wrapper under the reconcile index (Debian's SQLite through its C API).
@Suite struct SQLiteTests {
    @Test func writesCommitAndAFailedWriteRollsBack() throws {
        let dir = TestSupport.temporaryDirectory()
        let db = try SQLiteDatabase(path: dir + "/t.sqlite", prepare: "PRAGMA journal_mode=WAL")
        try db.write { db in
            try db.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, blob BLOB, real REAL)")
            try db.execute(sql: "INSERT INTO t(name, blob, real) VALUES (?, ?, ?)", arguments: ["a", Data([0, 1, 2]), 1.5])
            try db.execute(sql: "INSERT INTO t(name, blob, real) VALUES (?, ?, ?)", arguments: [nil as String?, Data(), Int64(7)])
        }
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.write { db in
                try db.execute(sql: "INSERT INTO t(name) VALUES ('rolled back')")
                throw Boom()
            }
        }
        let rows = try db.read { db in try db.fetchAll(sql: "SELECT * FROM t ORDER BY id").map { row -> [String] in
            let name: String? = row["name"]
            let blob: Data = row["blob"]
            let real: Double = row["real"]
            return [name ?? "NULL", "\(Array(blob))", "\(real)"]
        } }
        #expect(rows == [["a", "[0, 1, 2]", "1.5"], ["NULL", "[]", "7.0"]])
        let statement = try db.read { db in try db.cachedStatement(sql: "SELECT count(*) AS n FROM t WHERE name = ?").fetchOne(arguments: ["a"])?["n"].int64 }
        #expect(statement == 1)
    }

    @Test func errorsCarrySQLitesCodeAndMessage() throws {
        let dir = TestSupport.temporaryDirectory()
        let db = try SQLiteDatabase(path: dir + "/t.sqlite", prepare: "")
        #expect {
            try db.read { db in try db.execute(sql: "SELECT * FROM nowhere", arguments: [1]) }
        } throws: { error in
            (error as? SQLiteError).map { $0.code == 1 && $0.message.contains("nowhere") } ?? false
        }
    }

    @Test func theIndexSchemaIsMadeOnceAndKept() throws {
        let dir = TestSupport.temporaryDirectory()
        let first = try ReconcileDatabase(dataDirectory: dir)
        try first.queue.write { db in try ReconcileDatabase.set(db, "nextIndex", 42) }
        let again = try ReconcileDatabase(dataDirectory: dir)
        #expect(try again.queue.read { db in try ReconcileDatabase.integer(db, "nextIndex") } == 42)
        #expect(try again.queue.read { db in try db.fetchOne(sql: "PRAGMA user_version")?["user_version"].int64 } == 1)
    }
}
