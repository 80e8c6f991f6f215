import Foundation
import PostgresKit
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

    static func decode<T: Decodable>(_ type: T.Type, from text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StorageError.unavailable("column \(column) holds malformed JSON: \(error)")
        }
    }
}

extension SQLDatabase {
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
