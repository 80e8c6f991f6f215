import Foundation
import PostgresKit
import SQLiteKit
import SQLKit
import StrongroomCore

/// A value bound into a statement.
typealias SQLValue = any Encodable & Sendable

/// Dates are stored as BIGINT milliseconds since the Unix epoch: sortable, indexable and spelled the
/// same on SQLite and PostgreSQL. Sub-millisecond precision is dropped.
extension Date {
    var storageMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(storageMillis: Int64) { self.init(timeIntervalSince1970: Double(storageMillis) / 1000) }
}

extension Optional where Wrapped == Date {
    var storageMillis: Int64? { self.map(\.storageMillis) }
}

/// Arrays and JSON values are stored as JSON text (TEXT columns on both databases).
enum StoredJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func encode<T: Encodable>(_ value: T?) throws -> String? {
        try value.map { try encode($0) }
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StorageError.unavailable("column \(column) holds malformed JSON: \(error)")
        }
    }
}

/// Typed access to one result row.
struct RowReader {
    let row: any SQLRow

    func string(_ column: String) throws -> String {
        try row.decode(column: column, as: String.self)
    }

    func optionalString(_ column: String) throws -> String? {
        try row.decode(column: column, as: String?.self)
    }

    func date(_ column: String) throws -> Date {
        Date(storageMillis: try row.decode(column: column, as: Int64.self))
    }

    func optionalDate(_ column: String) throws -> Date? {
        try row.decode(column: column, as: Int64?.self).map(Date.init(storageMillis:))
    }

    func json<T: Decodable>(_ column: String, as type: T.Type) throws -> T {
        try StoredJSON.decode(type, from: try string(column), column: column)
    }

    func optionalJSON<T: Decodable>(_ column: String, as type: T.Type) throws -> T? {
        guard let text = try optionalString(column) else { return nil }
        return try StoredJSON.decode(type, from: text, column: column)
    }

    func rawEnum<E: RawRepresentable>(_ column: String, as type: E.Type) throws -> E where E.RawValue == String {
        let raw = try string(column)
        guard let value = E(rawValue: raw) else {
            throw StorageError.unavailable("column \(column) holds unknown value '\(raw)'")
        }
        return value
    }
}

/// Ordered column/value pairs for one row, turned into INSERT or UPDATE statements.
struct RowValues {
    private(set) var columns: [String] = []
    private(set) var values: [SQLValue] = []

    mutating func set(_ column: String, _ value: SQLValue) {
        columns.append(column)
        values.append(value)
    }
}

extension SQLDatabase {
    // Plain SQL text with binds rather than SQLKit's insert builder: the builder quotes every
    // identifier through `replacingOccurrences` (NSString on Linux), which cost more than the
    // INSERT itself. Table and column names are the schema's own snake_case names, written unquoted
    // as in the schema; values are always binds.

    /// `INSERT INTO table (…) VALUES (…), (…)` for rows sharing one column list.
    func insert(into table: String, rows: [RowValues]) async throws {
        guard let first = rows.first else { return }
        var query = SQLQueryString("INSERT INTO \(table) (\(first.columns.joined(separator: ", "))) VALUES ")
        for (index, row) in rows.enumerated() {
            query.appendLiteral(index == 0 ? "(" : ", (")
            query.appendInterpolation(binds: row.values)
            query.appendLiteral(")")
        }
        try await self.raw(query).run()
    }

    /// `INSERT … ON CONFLICT (key) DO UPDATE SET every other column = excluded.column`.
    func upsert(into table: String, row: RowValues, key: [String]) async throws {
        var query = SQLQueryString("INSERT INTO \(table) (\(row.columns.joined(separator: ", "))) VALUES (")
        query.appendInterpolation(binds: row.values)
        let updates = row.columns.filter { !key.contains($0) }.map { "\($0) = excluded.\($0)" }
        query.appendLiteral(") ON CONFLICT (\(key.joined(separator: ", "))) ")
        query.appendLiteral(updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET \(updates.joined(separator: ", "))")
        try await self.raw(query).run()
    }

    /// Runs a query and returns its rows.
    func rows(_ sql: SQLQueryString) async throws -> [any SQLRow] {
        try await self.raw(sql).all()
    }
}

/// True if the error is a primary-key or unique-constraint violation on either database.
func isUniqueViolation(_ error: any Error) -> Bool {
    if let sqlite = error as? SQLiteFailure {
        return sqlite.isUniqueViolation
    }
    if let sqlite = error as? SQLiteError {
        switch sqlite.reason {
        case .constraintPrimaryKeyFailed, .constraintUniqueFailed, .constraintUniqueRowIDFailed: return true
        case .constraint: return sqlite.message.contains("UNIQUE")
        default: return false
        }
    }
    if let postgres = error as? PSQLError {
        return postgres.serverInfo?[.sqlState] == "23505"
    }
    return false
}

/// Runs `body`, turning a unique violation into `StorageError.duplicate(what)`.
func mappingDuplicate<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error where isUniqueViolation(error) {
        throw StorageError.duplicate(what)
    }
}
