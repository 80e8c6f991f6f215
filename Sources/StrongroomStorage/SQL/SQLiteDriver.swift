import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit
import GRDBSQLite

// A small SQLite driver over the SQLite C API.
//
// Where the C API comes from: GRDB's public `GRDBSQLite` product (GRDB.swift 7), the system
// library's <sqlite3.h> (Debian's libsqlite3-dev). Not SQLiteNIO's internal `VaporCSQLite` target,
// which is no product and may change under any release of sqlite-nio. The alternatives that use only
// public Swift APIs were measured against what this driver must keep, and lose it:
//
// - SQLiteNIO's `SQLiteConnection.query` runs every statement as a separate job on NIO's thread pool
//   and resumes the caller from there (two thread hops per statement; with the server on one core
//   each hop is a futex wake plus a context switch), prepares every statement afresh, and installs
//   a busy handler that retries without sleeping. This is what the driver replaced in the
//   optimisation round of docs/benchmarks.md.
// - GRDB's `Database` is confined to its own dispatch queue (checked by a precondition) and is used
//   inside synchronous closures, so the async SQLKit jobs that the PostgreSQL backend shares cannot
//   run inside one GRDB write transaction: group commit would need one write (and one hop) per job.
//
// So the driver stays as it was:
//
// - Statements run on the calling thread. They are short (primary-key lookups and single-row writes
//   against the page cache, microseconds): cheaper than a hop. What can block runs on NIO's thread
//   pool instead: the COMMIT of a batch (the fsync of `synchronous=FULL`), and any statement that
//   meets a lock (SQLITE_BUSY) is retried there with the busy timeout.
// - Prepared statements are cached per connection, keyed by their SQL text.
// - Rows keep SQLite's values and decode the column types the storage uses (text, integers) directly.
//
// A connection is used by one thread at a time (its lock); SQLite itself also runs serialized
// (`SQLITE_OPEN_FULLMUTEX`).

/// An error reported by SQLite: the extended result code and SQLite's message.
struct SQLiteFailure: Error, CustomStringConvertible, Sendable {
    let code: Int32
    let message: String

    var primaryCode: Int32 { code & 0xFF }

    /// Another connection holds a lock this statement needs.
    var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    /// The file system is full (or the database reached its page limit): SQLITE_FULL. SQLite has
    /// rolled the write back; the same write succeeds once there is room again.
    var isFull: Bool { primaryCode == SQLITE_FULL }

    /// A PRIMARY KEY or UNIQUE constraint failed.
    var isUniqueViolation: Bool {
        // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_ROWID (extended codes).
        code == 1555 || code == 2067 || code == 2579
            || (code == SQLITE_CONSTRAINT && message.contains("UNIQUE"))
    }

    var description: String { "SQLite error \(code): \(message)" }
}

/// A value as SQLite stores it.
enum SQLiteValue: Sendable, Equatable {
    case integer(Int64)
    case float(Double)
    case text(String)
    case blob([UInt8])
    case null
}

/// Column names of a prepared statement, shared by all rows it returns.
final class SQLiteColumns: Sendable {
    let names: [String]

    init(names: [String]) { self.names = names }

    func index(of column: String) -> Int? {
        names.firstIndex(of: column)
    }
}

/// One result row: SQLite's values, decoded on demand.
struct SQLiteResultRow: SQLRow {
    let columns: SQLiteColumns
    let values: [SQLiteValue]

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.index(of: column) != nil }

    func decodeNil(column: String) throws -> Bool {
        values[try position(column)] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        try decode(at: try position(column), column: column, as: type)
    }

    /// The value at `index` (a valid position of this row) of the column named `column`.
    func decode<D: Decodable>(at index: Int, column: String, as type: D.Type) throws -> D {
        let data = values[index]
        // The column types the storage reads on every request, without a Decoder.
        switch data {
        case .text(let text):
            if D.self == String.self { return text as! D }
            if D.self == String?.self { return Optional(text) as! D }
        case .integer(let number):
            if D.self == Int64.self { return Int64(number) as! D }
            if D.self == Int64?.self { return Optional(Int64(number)) as! D }
            if D.self == Int.self { return Int(number) as! D }
            if D.self == Int?.self { return Optional(Int(number)) as! D }
        case .float(let number):
            if D.self == Double.self { return number as! D }
            if D.self == Double?.self { return Optional(number) as! D }
        case .blob(let bytes):
            if D.self == [UInt8].self { return bytes as! D }
            if D.self == [UInt8]?.self { return Optional(bytes) as! D }
        case .null:
            if D.self == String?.self { return String?.none as! D }
            if D.self == Int64?.self { return Int64?.none as! D }
            if D.self == Int?.self { return Int?.none as! D }
            if D.self == Double?.self { return Double?.none as! D }
            if D.self == [UInt8]?.self { return [UInt8]?.none as! D }
        }
        // Only the column types above are stored (see `Column`): anything else is a programming error.
        throw DecodingError.typeMismatch(D.self, .init(
            codingPath: [SQLiteColumnKey(stringValue: column)],
            debugDescription: "column \(column) holds \(data), not a \(D.self)"))
    }

    private func position(_ column: String) throws -> Int {
        guard let index = columns.index(of: column) else {
            throw DecodingError.keyNotFound(
                SQLiteColumnKey(stringValue: column),
                .init(codingPath: [], debugDescription: "no column \(column) in the result row"))
        }
        return index
    }
}

private struct SQLiteColumnKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Marks `Optional`, so a bound `nil` of any wrapped type becomes SQL NULL without an Encoder.
private protocol OptionalBind {
    var isNone: Bool { get }
}

extension Optional: OptionalBind {
    var isNone: Bool { self == nil }
}

/// SQLite's "copy the bound bytes" destructor.
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One open SQLite connection with its prepared-statement cache.
final class SQLiteHandle: @unchecked Sendable {
    /// The busy timeout used when a statement is retried off the calling thread.
    static let blockingBusyTimeoutMillis: Int32 = 5000
    /// Statements kept prepared per connection (the storage uses a few dozen distinct ones).
    private static let cacheLimit = 256
    /// 3.35.0, the first with RETURNING.
    static let minimumVersion: Int32 = 3_035_000

    private final class Prepared {
        let statement: OpaquePointer
        var columns: SQLiteColumns

        init(statement: OpaquePointer, columns: SQLiteColumns) {
            self.statement = statement
            self.columns = columns
        }
    }

    private let lock = NIOLock()
    // Guarded by `lock`.
    private var db: OpaquePointer?
    private var cache: [String: Prepared] = [:]

    /// Opens `path` (":memory:" for a private in-memory database). Lock waits fail at once
    /// (busy timeout 0): `run` retries them off the calling thread.
    init(path: String) throws {
        // RETURNING (3.35) is used by every single-use consumption; the system library may be older.
        guard sqlite3_libversion_number() >= Self.minimumVersion else {
            throw SQLiteFailure(code: SQLITE_ERROR, message: "SQLite \(String(cString: sqlite3_libversion())) is older than 3.35.0")
        }
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open"
            if let handle { sqlite3_close(handle) }
            throw SQLiteFailure(code: rc, message: "\(message) (\(path))")
        }
        sqlite3_busy_timeout(handle, 0)
        // A double-quoted name is always an identifier, never a string literal (SQLITE_DQS=0, as the
        // SQLite that SQLiteNIO vendors was built): a misspelt quoted column fails instead of
        // comparing against a constant. `sqlite3_db_config` is variadic, hence the header's wrapper.
        _disableDoubleQuotedStringLiterals(handle)
        db = handle
    }

    deinit {
        close()
    }

    /// Finalizes the cached statements and closes the connection. Idempotent.
    func close() {
        lock.withLock {
            for prepared in cache.values { sqlite3_finalize(prepared.statement) }
            cache.removeAll()
            if let db { sqlite3_close(db) }
            db = nil
        }
    }

    /// Whether a transaction is open on this connection. SQLite rolls a transaction back by itself
    /// after some errors (SQLITE_FULL, I/O errors), and the connection is then in autocommit mode.
    var isInTransaction: Bool {
        lock.withLock { db.map { sqlite3_get_autocommit($0) == 0 } ?? false }
    }

    /// Runs one statement; returns its rows. With `busyTimeout`, waits up to that long for locks.
    func run(_ sql: String, _ binds: [SQLiteValue], busyTimeoutMillis: Int32 = 0) throws -> [SQLiteResultRow] {
        try lock.withLock {
            guard let db else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "connection is closed") }
            if busyTimeoutMillis != 0 { sqlite3_busy_timeout(db, busyTimeoutMillis) }
            defer { if busyTimeoutMillis != 0 { sqlite3_busy_timeout(db, 0) } }

            let prepared = try prepare(sql, db: db)
            let statement = prepared.statement
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
                if cache[sql] !== prepared { sqlite3_finalize(statement) }
            }
            try bind(binds, to: statement, db: db)

            var rows: [SQLiteResultRow] = []
            while true {
                let rc = sqlite3_step(statement)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else { throw failure(rc, db) }
                let count = Int(sqlite3_column_count(statement))
                if count != prepared.columns.names.count {
                    // The statement was re-prepared against a changed schema.
                    prepared.columns = Self.columns(of: statement)
                }
                var values: [SQLiteValue] = []
                values.reserveCapacity(count)
                for index in 0..<Int32(count) {
                    values.append(Self.value(statement, index))
                }
                rows.append(SQLiteResultRow(columns: prepared.columns, values: values))
            }
            return rows
        }
    }

    private func prepare(_ sql: String, db: OpaquePointer) throws -> Prepared {
        if let prepared = cache[sql] { return prepared }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw failure(rc, db) }
        let prepared = Prepared(statement: statement, columns: Self.columns(of: statement))
        if cache.count < Self.cacheLimit { cache[sql] = prepared }
        return prepared
    }

    private func bind(_ binds: [SQLiteValue], to statement: OpaquePointer, db: OpaquePointer) throws {
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .integer(let number): rc = sqlite3_bind_int64(statement, index, number)
            case .float(let number): rc = sqlite3_bind_double(statement, index, number)
            case .text(let text):
                rc = sqlite3_bind_text(statement, index, text, Int32(text.utf8.count), transientDestructor)
            case .blob(let buffer):
                rc = buffer.withUnsafeBytes { bytes in
                    sqlite3_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count), transientDestructor)
                }
            case .null: rc = sqlite3_bind_null(statement, index)
            }
            guard rc == SQLITE_OK else { throw failure(rc, db) }
        }
    }

    private static func columns(of statement: OpaquePointer) -> SQLiteColumns {
        let count = sqlite3_column_count(statement)
        return SQLiteColumns(names: (0..<count).map { index in
            sqlite3_column_name(statement, index).map { String(cString: $0) } ?? ""
        })
    }

    private static func value(_ statement: OpaquePointer, _ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT:
            return .float(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, index) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard let bytes = sqlite3_column_blob(statement, index), count > 0 else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }

    private func failure(_ rc: Int32, _ db: OpaquePointer) -> SQLiteFailure {
        let message = sqlite3_errmsg(db).map { String(cString: $0) } ?? "unknown error"
        let extended = sqlite3_extended_errcode(db)
        return SQLiteFailure(code: (extended & 0xFF) == (rc & 0xFF) ? extended : rc, message: message)
    }
}

/// Where a statement runs: one connection, or the next free connection of a set.
protocol SQLiteHandleSource: Sendable {
    func withHandle<T>(_ body: (SQLiteHandle) throws -> T) rethrows -> T
}

/// Reader connections: a statement takes the first idle one (or waits for one).
final class SQLiteReaderSet: SQLiteHandleSource, @unchecked Sendable {
    private let handles: [SQLiteHandle]
    private let locks: [NSLock]
    private let next = NIOLockedValueBox(0)

    init(handles: [SQLiteHandle]) {
        precondition(!handles.isEmpty)
        self.handles = handles
        self.locks = handles.map { _ in NSLock() }
    }

    func withHandle<T>(_ body: (SQLiteHandle) throws -> T) rethrows -> T {
        let start = next.withLockedValue { value -> Int in
            defer { value = (value + 1) % handles.count }
            return value
        }
        for offset in 0..<handles.count {
            let index = (start + offset) % handles.count
            if locks[index].try() {
                defer { locks[index].unlock() }
                return try body(handles[index])
            }
        }
        return try locks[start].withLock { try body(handles[start]) }
    }
}

extension SQLiteHandle: SQLiteHandleSource {
    func withHandle<T>(_ body: (SQLiteHandle) throws -> T) rethrows -> T { try body(self) }
}

/// SQLKit's view of an SQLite connection (or reader set) of this driver.
struct SQLiteDirectDatabase: SQLDatabase {
    let source: any SQLiteHandleSource
    let logger: Logger
    let eventLoop: any EventLoop
    var queryLogLevel: Logger.Level? { .trace }
    var dialect: any SQLDialect { SQLiteSQLDialect() }

    init(source: any SQLiteHandleSource, logger: Logger, eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) {
        self.source = source
        self.logger = logger
        self.eventLoop = eventLoop
    }

    /// Whether the connection has a transaction open (see `SQLiteHandle.isInTransaction`).
    var isInTransaction: Bool { source.withHandle { $0.isInTransaction } }

    /// Serializes the expression and converts its binds to SQLite values.
    func prepare(_ query: any SQLExpression) throws -> (sql: String, binds: [SQLiteValue]) {
        var serializer = SQLSerializer(database: self)
        query.serialize(to: &serializer)
        if logger.logLevel <= .trace {
            logger.trace("Executing query", metadata: ["sql": .string(serializer.sql)])
        }
        return (serializer.sql, try serializer.binds.map(Self.sqliteValue))
    }

    static func sqliteValue(_ value: any Encodable & Sendable) throws -> SQLiteValue {
        switch value {
        case let text as String: return .text(text)
        case let number as Int64: return .integer(number)
        case let number as Int: return .integer(Int64(number))
        case let number as Int32: return .integer(Int64(number))
        case let number as Double: return .float(number)
        case let bytes as [UInt8]: return .blob(bytes)
        case let flag as Bool: return .integer(flag ? 1 : 0)
        case let data as SQLiteValue: return data
        default:
            if let optional = value as? any OptionalBind, optional.isNone { return .null }
            // Only the column types above are stored (see `Column`): anything else is a programming error.
            throw SQLiteFailure(code: SQLITE_MISMATCH, message: "cannot bind a \(type(of: value))")
        }
    }

    /// Runs a serialized statement on the calling thread; if it meets a lock, again on NIO's thread
    /// pool with the busy timeout, so the caller's thread never waits for another connection.
    func run(_ sql: String, _ binds: [SQLiteValue]) async throws -> [SQLiteResultRow] {
        do {
            return try source.withHandle { try $0.run(sql, binds) }
        } catch let failure as SQLiteFailure where failure.isBusy {
            let source = self.source
            return try await NIOThreadPool.singleton.runIfActive {
                try source.withHandle { try $0.run(sql, binds, busyTimeoutMillis: SQLiteHandle.blockingBusyTimeoutMillis) }
            }
        }
    }

    /// Runs a serialized statement on NIO's thread pool (for statements that may block, like COMMIT).
    func runBlocking(_ sql: String) async throws {
        let source = self.source
        _ = try await NIOThreadPool.singleton.runIfActive {
            try source.withHandle { try $0.run(sql, [], busyTimeoutMillis: SQLiteHandle.blockingBusyTimeoutMillis) }
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        let (sql, binds) = try prepare(query)
        for row in try await run(sql, binds) { onRow(row) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        let source = self.source
        let prepared: (sql: String, binds: [SQLiteValue])
        do { prepared = try prepare(query) } catch { return eventLoop.makeFailedFuture(error) }
        return NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            try source.withHandle { try $0.run(prepared.sql, prepared.binds, busyTimeoutMillis: SQLiteHandle.blockingBusyTimeoutMillis) }
        }.map { rows in
            for row in rows { onRow(row) }
        }
    }
}

/// SQLKit's serialization rules for SQLite (as SQLiteKit's dialect spells them, for the SQLite
/// versions this driver accepts: UPSERT since 3.24, RETURNING since 3.35).
struct SQLiteSQLDialect: SQLDialect {
    var name: String { "sqlite" }
    var identifierQuote: any SQLExpression { SQLRaw("\"") }
    var literalStringQuote: any SQLExpression { SQLRaw("'") }
    func bindPlaceholder(at position: Int) -> any SQLExpression { SQLRaw("?\(position)") }
    func literalBoolean(_ value: Bool) -> any SQLExpression { SQLRaw(value ? "TRUE" : "FALSE") }
    var literalDefault: any SQLExpression { SQLLiteral.null }
    var supportsIfExists: Bool { true }
    var supportsDropBehavior: Bool { false }
    var supportsAutoIncrement: Bool { false }
    var autoIncrementClause: any SQLExpression { SQLRaw("AUTOINCREMENT") }
    var enumSyntax: SQLEnumSyntax { .unsupported }
    var upsertSyntax: SQLUpsertSyntax { .standard }
    var supportsReturning: Bool { true }
}
