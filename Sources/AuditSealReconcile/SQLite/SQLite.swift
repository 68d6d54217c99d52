import AuditSealCore
import CAuditSealSQLite
import FoundationEssentials

// Debian's SQLite through its C API: one connection, used under one lock, statements prepared once.
// (GRDB served here until the image had to shed the full Foundation, which GRDB imports in every
// file and which links ICU's 34 MB of data: docs/OPERATIONS.md "Image size".)

/// A failed SQLite call, with SQLite's result code and message.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
}

/// One value of a column or an argument.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public var int64: Int64? { if case .integer(let i) = self { return i }; return nil }
    public var string: String? { if case .text(let s) = self { return s }; return nil }
}

/// A Swift value stored in a column.
public protocol SQLiteValueConvertible {
    var sqliteValue: SQLiteValue { get }
    /// The value a column holds; nil when it holds another type (or NULL).
    static func from(_ value: SQLiteValue) -> Self?
}

extension Int64: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .integer(self) }
    public static func from(_ value: SQLiteValue) -> Int64? { value.int64 }
}
extension Int: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    public static func from(_ value: SQLiteValue) -> Int? { value.int64.flatMap { Int(exactly: $0) } }
}
extension Double: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .real(self) }
    public static func from(_ value: SQLiteValue) -> Double? {
        switch value {
        case .real(let d): return d
        case .integer(let i): return Double(i)
        default: return nil
        }
    }
}
extension String: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .text(self) }
    public static func from(_ value: SQLiteValue) -> String? { value.string }
}
extension Data: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { .blob(Array(self)) }
    public static func from(_ value: SQLiteValue) -> Data? { if case .blob(let b) = value { return Data(b) }; return nil }
}
extension Optional: SQLiteValueConvertible where Wrapped: SQLiteValueConvertible {
    public var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
    public static func from(_ value: SQLiteValue) -> Wrapped?? { value == .null ? .some(nil) : Wrapped.from(value).map { .some($0) } }
}

public typealias SQLiteArguments = [(any SQLiteValueConvertible)?]

/// A result row, by column name.
public struct SQLiteRow {
    let columns: [String: SQLiteValue]

    public subscript(_ column: String) -> SQLiteValue { columns[column] ?? .null }

    /// The column as `T`; a column of another type is a programming error, as GRDB's row subscript.
    public subscript<T: SQLiteValueConvertible>(_ column: String) -> T {
        guard let value = T.from(self[column]) else { preconditionFailure("column \(column) holds \(self[column]), not \(T.self)") }
        return value
    }
}

/// A prepared statement of a connection (reset before each use).
public final class SQLiteStatement {
    fileprivate let handle: OpaquePointer
    private let connection: SQLiteConnection
    /// The result columns' names, fixed once the statement is prepared.
    private let names: [String]

    fileprivate init(_ connection: SQLiteConnection, sql: String) throws {
        var statement: OpaquePointer?
        try connection.check(sqlite3_prepare_v2(connection.handle, sql, -1, &statement, nil))
        guard let statement else { throw SQLiteError(code: SQLITE_MISUSE, message: "empty statement: \(sql)") }
        handle = statement
        self.connection = connection
        names = (0..<sqlite3_column_count(statement)).map { String(cString: sqlite3_column_name(statement, $0)) }
    }

    deinit { sqlite3_finalize(handle) }

    public func execute(arguments: SQLiteArguments = []) throws {
        try run(arguments) { _ in }
    }

    public func fetchAll(arguments: SQLiteArguments = []) throws -> [SQLiteRow] {
        var rows = [SQLiteRow]()
        try run(arguments) { rows.append($0) }
        return rows
    }

    public func fetchOne(arguments: SQLiteArguments = []) throws -> SQLiteRow? {
        var first: SQLiteRow?
        try run(arguments) { if first == nil { first = $0 } }
        return first
    }

    private func run(_ arguments: SQLiteArguments, _ row: (SQLiteRow) -> Void) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        defer { sqlite3_reset(handle) }
        for (i, argument) in arguments.enumerated() {
            let index = Int32(i + 1)
            switch argument?.sqliteValue ?? .null {
            case .null: try connection.check(sqlite3_bind_null(handle, index))
            case .integer(let v): try connection.check(sqlite3_bind_int64(handle, index, v))
            case .real(let v): try connection.check(sqlite3_bind_double(handle, index, v))
            case .text(let v): try connection.check(auditseal_sqlite3_bind_text(handle, index, v, Int32(v.utf8.count)))
            case .blob(let v): try connection.check(v.withUnsafeBytes { auditseal_sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count)) })
            }
        }
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { try connection.check(rc); return }
            var columns = [String: SQLiteValue](minimumCapacity: names.count)
            for (i, name) in names.enumerated() {
                let c = Int32(i)
                switch sqlite3_column_type(handle, c) {
                case SQLITE_INTEGER: columns[name] = .integer(sqlite3_column_int64(handle, c))
                case SQLITE_FLOAT: columns[name] = .real(sqlite3_column_double(handle, c))
                case SQLITE_TEXT:
                    let bytes = sqlite3_column_text(handle, c)
                    let count = Int(sqlite3_column_bytes(handle, c))
                    columns[name] = .text(bytes.map { String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self) } ?? "")
                case SQLITE_BLOB:
                    let bytes = sqlite3_column_blob(handle, c)
                    let count = Int(sqlite3_column_bytes(handle, c))
                    columns[name] = .blob(bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? [])
                default: columns[name] = .null
                }
            }
            row(SQLiteRow(columns: columns))
        }
    }
}

/// One open database file. Not Sendable: `SQLiteDatabase` owns it under a lock.
public final class SQLiteConnection {
    fileprivate let handle: OpaquePointer
    private var cache = [String: SQLiteStatement]()

    init(path: String) throws {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "\(path): \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 5_000)  // another process (status) holding the file a moment
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    fileprivate func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE else {
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
        }
    }

    /// Runs SQL: one statement with arguments, or any number of statements without.
    public func execute(sql: String, arguments: SQLiteArguments = []) throws {
        if arguments.isEmpty {
            try check(sqlite3_exec(handle, sql, nil, nil, nil))
        } else {
            try SQLiteStatement(self, sql: sql).execute(arguments: arguments)
        }
    }

    public func fetchAll(sql: String, arguments: SQLiteArguments = []) throws -> [SQLiteRow] {
        try SQLiteStatement(self, sql: sql).fetchAll(arguments: arguments)
    }

    public func fetchOne(sql: String, arguments: SQLiteArguments = []) throws -> SQLiteRow? {
        try SQLiteStatement(self, sql: sql).fetchOne(arguments: arguments)
    }

    /// The statement prepared once for this connection.
    public func cachedStatement(sql: String) throws -> SQLiteStatement {
        if let statement = cache[sql] { return statement }
        let statement = try SQLiteStatement(self, sql: sql)
        cache[sql] = statement
        return statement
    }
}

/// A database file used by one connection under one lock (as GRDB's DatabaseQueue): `write` is a
/// transaction (BEGIN IMMEDIATE … COMMIT, rolled back when the body throws), `read` is plain access.
public final class SQLiteDatabase: Sendable {
    private let connection: Locked<SQLiteConnection>

    /// Opens (creating) the file and runs `prepare` (pragmas) on the new connection.
    public init(path: String, prepare: String) throws {
        let connection = try SQLiteConnection(path: path)
        try connection.execute(sql: prepare)
        self.connection = Locked(connection)
    }

    public func read<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { try body($0) }
    }

    public func write<T: Sendable>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            do {
                let result = try body(db)
                try db.execute(sql: "COMMIT")
                return result
            } catch {
                try? db.execute(sql: "ROLLBACK")
                throw error
            }
        }
    }
}
