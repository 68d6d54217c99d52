import AuditSealCore
import FoundationEssentials

/// The reconciliation state of one store, in SQLite (`DATA_DIR/reconcile/index.sqlite`, through
/// its C API): the persistent (auditID, stage) index over the reconciliation horizon, the read position
/// of every log file, and what reconciliation found. Everything here is derived from the chain and
/// the log files and can be rebuilt: the index from the chain, the positions by reading the logs
/// again (the index says what is already stored).
///
/// One read position and the counters move in the same transaction, after the events they cover
/// are durable in the chain: a crash between the two re-reads those lines, and the index, caught
/// up from the chain first, finds them stored.
public final class ReconcileDatabase: Sendable {
    let queue: SQLiteDatabase
    public let path: String

    public init(dataDirectory: String) throws {
        let directory = dataDirectory + "/reconcile"
        try FileIO.makeDirectories(directory)
        path = directory + "/index.sqlite"
        // WAL keeps readers (status) off the writer; NORMAL may lose the last transactions at a
        // power cut, never consistency: the positions and the index then simply lag.
        queue = try SQLiteDatabase(path: path, prepare: "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536")
        // Schema version 1 (PRAGMA user_version). A file made through GRDB has these tables (and its
        // grdb_migrations table) at user_version 0: IF NOT EXISTS keeps them.
        try queue.write { db in
            guard try db.fetchOne(sql: "PRAGMA user_version")?["user_version"].int64 == 0 else { return }
            // The index: WITHOUT ROWID, keyed by (second, key hash) so that inserts land at the right edge.
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS seen(t INTEGER NOT NULL, k BLOB NOT NULL, idx INTEGER NOT NULL, leaf BLOB NOT NULL,
                                  PRIMARY KEY(t, k)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS logs(fingerprint TEXT PRIMARY KEY NOT NULL, path TEXT NOT NULL, offset INTEGER NOT NULL,
                                  lines INTEGER NOT NULL, complete INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS mismatches(id INTEGER PRIMARY KEY, auditID TEXT, stage TEXT, eventIndex INTEGER,
                                        file TEXT, line INTEGER, foundAt TEXT);
                CREATE TABLE IF NOT EXISTS drops(id INTEGER PRIMARY KEY, server TEXT, plugin TEXT, events INTEGER, fromTime TEXT, toTime TEXT);
                CREATE TABLE IF NOT EXISTS gaps(id INTEGER PRIMARY KEY, source TEXT, fromTime TEXT, toTime TEXT, reason TEXT);
                CREATE TABLE IF NOT EXISTS scrapes(server TEXT PRIMARY KEY NOT NULL, startTime REAL, at TEXT, counters TEXT) WITHOUT ROWID;
                PRAGMA user_version = 1;
                """)
        }
    }

    // MARK: Counters and marks

    static let counterNames = ["logEventsRead", "matchedEvents", "backfilledEvents", "mismatchedEvents", "beyondHorizonEvents", "unreadableLines"]

    static func value(_ db: SQLiteConnection, _ name: String) throws -> SQLiteValue? {
        try db.fetchOne(sql: "SELECT value FROM meta WHERE name = ?", arguments: [name])?["value"]
    }

    static func integer(_ db: SQLiteConnection, _ name: String) throws -> Int64 {
        try value(db, name).flatMap { $0.int64 } ?? 0
    }

    static func set(_ db: SQLiteConnection, _ name: String, _ value: (any SQLiteValueConvertible)?) throws {
        try db.execute(sql: "INSERT INTO meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                       arguments: [name, value])
    }

    static func add(_ db: SQLiteConnection, _ name: String, _ delta: Int64) throws {
        guard delta != 0 else { return }
        try set(db, name, try integer(db, name) + delta)
    }

    // MARK: The report

    /// Renders what the database knows as the report `verify` and `status` read.
    public func report(now: Date = Date()) throws -> CompletenessReport {
        try queue.read { db in
            var r = CompletenessReport(updatedAt: Timestamp.format(now))
            r.logEventsRead = UInt64(try Self.integer(db, "logEventsRead"))
            r.matchedEvents = UInt64(try Self.integer(db, "matchedEvents"))
            r.backfilledEvents = UInt64(try Self.integer(db, "backfilledEvents"))
            r.mismatchedEvents = UInt64(try Self.integer(db, "mismatchedEvents"))
            r.beyondHorizonEvents = UInt64(try Self.integer(db, "beyondHorizonEvents"))
            r.unreadableLines = UInt64(try Self.integer(db, "unreadableLines"))
            r.indexedThrough = UInt64(try Self.integer(db, "nextIndex"))
            r.reconciledThrough = try Self.value(db, "reconciledThrough").flatMap { $0.string }
            r.mismatches = try db.fetchAll(sql: "SELECT * FROM mismatches ORDER BY id DESC LIMIT 100").reversed().map {
                .init(auditID: $0["auditID"], stage: $0["stage"], eventIndex: UInt64($0["eventIndex"] as Int64), file: $0["file"],
                      line: UInt64($0["line"] as Int64), foundAt: $0["foundAt"])
            }
            r.logFiles = try db.fetchAll(sql: "SELECT * FROM logs ORDER BY path").map {
                .init(path: $0["path"], fingerprint: $0["fingerprint"], offset: UInt64($0["offset"] as Int64),
                      lines: UInt64($0["lines"] as Int64), complete: ($0["complete"] as Int64) != 0)
            }
            r.sourceDrops = try db.fetchAll(sql: "SELECT * FROM drops ORDER BY id DESC LIMIT 1000").reversed().map {
                .init(server: $0["server"], plugin: $0["plugin"], events: UInt64($0["events"] as Int64), from: $0["fromTime"], to: $0["toTime"])
            }
            for row in try db.fetchAll(sql: "SELECT plugin, SUM(events) AS n FROM drops GROUP BY plugin") {
                r.sourceDroppedTotal[row["plugin"]] = UInt64(row["n"] as Int64)
            }
            r.gaps = try db.fetchAll(sql: "SELECT * FROM gaps ORDER BY id DESC LIMIT 1000").reversed().map {
                .init(source: $0["source"], from: $0["fromTime"], to: $0["toTime"], reason: $0["reason"])
            }
            return r
        }
    }

    /// Writes the report to `DATA_DIR/reconcile/report.json` (atomically) and, when it changed
    /// since the last snapshot and that one is at least a minute old, a new snapshot for shipping.
    public func writeReport(dataDirectory: String, now: Date = Date()) throws {
        let current = try report(now: now)
        let bytes = try StableJSON.encode(current) + [0x0a]
        try FileIO.writeAtomically(path: dataDirectory + "/" + CompletenessReport.path, bytes: bytes)
        let folder = dataDirectory + "/reconcile"
        let snapshots = try FileIO.list(folder).map { "reconcile/" + $0 }.filter(CompletenessReport.isSnapshot).sorted()
        if let last = snapshots.last {
            guard let old = try? StableJSON.decode(CompletenessReport.self, from: try FileIO.readAll(path: dataDirectory + "/" + last)),
                  old.content != current.content,
                  now.timeIntervalSince(Timestamp.parse(old.updatedAt) ?? .distantPast) >= 60 else { return }
        }
        let name = CompletenessReport.snapshotName(now)
        if !FileIO.exists(dataDirectory + "/" + name) {
            try FileIO.writeAtomically(path: dataDirectory + "/" + name, bytes: bytes, mode: 0o444)
        }
    }

    /// Records a window reconciliation could not cover.
    public func recordGap(source: String, from: Date, to: Date, reason: String) throws {
        try queue.write { db in
            try db.execute(sql: "INSERT INTO gaps(source, fromTime, toTime, reason) VALUES (?, ?, ?, ?)",
                           arguments: [source, Timestamp.format(from), Timestamp.format(to), reason])
        }
    }

    // MARK: Log positions (sync: SQLite's blocking API, called from the reconciliation task)

    /// A log file's saved position (offset, lines, complete), creating it at 0.
    func position(of file: AuditLogFile) throws -> (UInt64, UInt64, Bool) {
        try queue.write { db -> (UInt64, UInt64, Bool) in
            if let row = try db.fetchOne(sql: "SELECT offset, lines, complete FROM logs WHERE fingerprint = ?", arguments: [file.fingerprint]) {
                try db.execute(sql: "UPDATE logs SET path = ? WHERE fingerprint = ?", arguments: [file.path, file.fingerprint])
                return (UInt64(row["offset"] as Int64), UInt64(row["lines"] as Int64), (row["complete"] as Int64) != 0)
            }
            try db.execute(sql: "INSERT INTO logs(fingerprint, path, offset, lines, complete) VALUES (?, ?, 0, 0, 0)", arguments: [file.fingerprint, file.path])
            return (0, 0, false)
        }
    }

    func setPosition(of file: AuditLogFile, offset: UInt64, lines: UInt64, complete: Bool, unreadable: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE logs SET offset = ?, lines = ?, complete = ? WHERE fingerprint = ?",
                           arguments: [Int64(offset), Int64(lines), complete ? 1 : 0, file.fingerprint])
            try Self.add(db, "unreadableLines", unreadable)
        }
    }

    /// Moves a file's position past a reconciled chunk, with the chunk's counts, in one transaction.
    func advance(_ file: AuditLogFile, bytes: Int, lines: UInt64, counted r: Backfiller.PassResult,
                 mismatches: [CompletenessReport.CopyMismatch], reconciledThrough: String?) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE logs SET offset = offset + ?, lines = lines + ? WHERE fingerprint = ?",
                           arguments: [Int64(bytes), Int64(lines), file.fingerprint])
            try Self.add(db, "logEventsRead", Int64(r.read))
            try Self.add(db, "matchedEvents", Int64(r.matched))
            try Self.add(db, "backfilledEvents", Int64(r.backfilled))
            try Self.add(db, "mismatchedEvents", Int64(r.mismatched))
            try Self.add(db, "beyondHorizonEvents", Int64(r.beyondHorizon))
            try Self.add(db, "unreadableLines", Int64(r.unreadable))
            for m in mismatches {
                try db.execute(sql: "INSERT INTO mismatches(auditID, stage, eventIndex, file, line, foundAt) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [m.auditID, m.stage, Int64(m.eventIndex), m.file, Int64(m.line), m.foundAt])
            }
            if let t = reconciledThrough {
                let current = try Self.value(db, "reconciledThrough").flatMap { $0.string }
                if current == nil || t > current! { try Self.set(db, "reconciledThrough", t) }
            }
        }
    }

    /// Files not read to their end that are no longer present: marked done, their unread rest
    /// recorded as a gap. Returns (path, lines read) of each.
    func forgetVanished(present: Set<String>, since: Date, now: Date) throws -> [(String, Int64)] {
        try queue.write { db in
            var gone = [(String, Int64)]()
            for row in try db.fetchAll(sql: "SELECT fingerprint, path, lines FROM logs WHERE complete = 0") {
                let fingerprint: String = row["fingerprint"]
                guard !present.contains(fingerprint) else { continue }
                let path: String = row["path"]
                let lines: Int64 = row["lines"]
                try db.execute(sql: "UPDATE logs SET complete = 1 WHERE fingerprint = ?", arguments: [fingerprint])
                try db.execute(sql: "INSERT INTO gaps(source, fromTime, toTime, reason) VALUES ('log', ?, ?, ?)",
                               arguments: [Timestamp.format(since), Timestamp.format(now),
                                           "log file \(path) was removed (or rotated away) before it was read past line \(lines)"])
                gone.append((path, lines))
            }
            return gone
        }
    }

    /// The index entries (event index, leaf hint) of the keys, nil where absent.
    func lookup(_ keys: [EventKey]) throws -> [(index: Int64, leaf: [UInt8])?] {
        try queue.read { db in
            let select = try db.cachedStatement(sql: "SELECT idx, leaf FROM seen WHERE t = ? AND k = ?")
            return try keys.map { key in
                try select.fetchOne(arguments: [key.second, Data(key.hash)]).map { ($0["idx"], Array($0["leaf"] as Data)) }
            }
        }
    }

    /// Size of the database files on disk (bytes).
    public var sizeOnDisk: Int {
        [path, path + "-wal"].compactMap { FileIO.size($0) }.reduce(0, +)
    }
}
