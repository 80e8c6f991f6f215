import Foundation
import PostgresKit
import SQLKit
import StrongroomCore
import Synchronization

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
        if let list = value as? [String], let text = PlainStringList.encode(list) { return text }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String, column: String) throws -> T {
        if T.self == [String].self, let list = PlainStringList.decode(text) { return list as! T }
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StorageError.invalid("column \(column) holds malformed JSON: \(error)")
        }
    }
}

/// Decoded values of one JSON column type by their exact stored text, for columns read with nearly
/// every request whose text rarely changes (a client's `metadata`, read to authenticate each token
/// and introspection request): the same text always decodes to the same value, so reusing the value
/// is exactly what `JSONDecoder` would return, and nothing can be stale; the row itself is still read
/// every time. Bounded by entries and by the bytes of the texts kept (registration lets clients
/// choose their metadata, so its size is theirs): when either bound would be passed the memo starts
/// again empty, and a text longer than a tenth of the byte bound is decoded without being kept.
final class DecodedJSONMemo<T: Decodable & Sendable>: Sendable {
    private struct Table { var values: [String: T] = [:]; var bytes = 0 }
    private let table = Mutex(Table())
    let capacity: Int
    let byteCapacity: Int

    init(capacity: Int, byteCapacity: Int) {
        self.capacity = capacity
        self.byteCapacity = byteCapacity
    }

    func decode(_ text: String, column: String) throws -> T {
        if let known = table.withLock({ $0.values[text] }) { return known }
        let value = try StoredJSON.decode(T.self, from: text, column: column)
        let size = text.utf8.count
        guard size <= byteCapacity / 10 else { return value }
        table.withLock { t in
            if t.values.count >= capacity || t.bytes + size > byteCapacity { t = Table() }
            if t.values.updateValue(value, forKey: text) == nil { t.bytes += size }
        }
        return value
    }

    /// Texts kept, and their bytes (for tests).
    var usage: (entries: Int, bytes: Int) { table.withLock { ($0.values.count, $0.bytes) } }
}

/// The JSON text of a list of strings that need no escaping, e.g. `["openid","accounts"]`: scope
/// lists, which are read with every token. Written by hand because `JSONDecoder` and `JSONEncoder`
/// cost more than the rest of decoding a token row together; any other text (escapes, white space,
/// control or non-ASCII characters) is left to them, so what is read is exactly what they would read.
enum PlainStringList {
    /// Printable ASCII without `"` and `\`: the characters written and read verbatim.
    private static func isPlain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    static func encode(_ list: [String]) -> String? {
        var text = "["
        for (index, element) in list.enumerated() {
            guard element.utf8.allSatisfy(isPlain) else { return nil }
            text += index == 0 ? "\"" : ",\""
            text += element
            text += "\""
        }
        return text + "]"
    }

    static func decode(_ text: String) -> [String]? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else { return nil }
        var list: [String] = []
        var index = 1
        let end = bytes.count - 1
        while index < end {
            if !list.isEmpty {
                guard bytes[index] == UInt8(ascii: ",") else { return nil }
                index += 1
            }
            guard index < end, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index + 1
            var close = start
            while close < end, isPlain(bytes[close]) { close += 1 }
            guard close < end, bytes[close] == UInt8(ascii: "\"") else { return nil }
            list.append(String(decoding: bytes[start..<close], as: UTF8.self))
            index = close + 1
        }
        return list
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
