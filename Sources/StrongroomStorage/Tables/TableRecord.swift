import Foundation
import SQLKit
import StrongroomCore

// One definition per table.
//
// Each stored type declares its table once: the table name, the primary key and the ordered column
// list, each column naming the property it stores and how (`Column`). INSERT, upsert and whole-row
// UPDATE statements, SELECT and RETURNING lists, decoding a row into the type, the sweep of expired
// rows and the list of encrypted columns are all derived from that declaration. The migrations
// (`Schema.swift`) stay numbered and immutable: a new column is a new migration plus one line in the
// column list, and `StorageSchemaTests` checks every declaration against the live schema of SQLite
// and PostgreSQL (names, types, nullability, primary key).

/// A stored type that is the single definition of its table's columns.
protocol TableRecord: Sendable {
    static var schema: TableSchema<Self> { get }
    /// Builds the value from a row, reading every property through its declared column: `row[\.property]`.
    init(row: StoredRow<Self>) throws
}

/// How a column is declared in the migrations (one spelling for SQLite and PostgreSQL).
enum ColumnType: String, Sendable {
    case text = "TEXT"
    case bigint = "BIGINT"
    case integer = "INTEGER"
}

/// One column: its name, the property it stores, and how the value is written and read.
struct Column<Record>: Sendable {
    let name: String
    let keyPath: any PartialKeyPath<Record> & Sendable
    let type: ColumnType
    let nullable: Bool
    /// Written by INSERT only: whole-row updates and upserts leave it as stored (e.g. `created_at`).
    private(set) var isInsertOnly = false
    /// For a sealed column, the property identifying the row its envelope is bound to.
    let sealedRowID: (any KeyPath<Record, String> & Sendable)?
    /// The bind for this column of `record`; `sealed` is set for sealed columns.
    fileprivate let bind: @Sendable (_ record: Record, _ cipher: FieldCipher, _ sealed: SealedField?) throws -> SQLValue
    /// The property's value read from its cell of a row; `sealed` is set for sealed columns.
    fileprivate let read: @Sendable (_ cell: RowCell, _ cipher: FieldCipher, _ sealed: SealedField?) throws -> Any

    /// The same column, written by INSERT only.
    func insertOnly() -> Column {
        var column = self
        column.isInsertOnly = true
        return column
    }
}

// MARK: Column kinds
//
// Dates are BIGINT milliseconds, JSON and arrays TEXT (`StoredJSON`), enumerations their raw TEXT.

extension Column {
    private init(_ name: String, _ keyPath: any PartialKeyPath<Record> & Sendable, _ type: ColumnType, nullable: Bool,
                 sealedRowID: (any KeyPath<Record, String> & Sendable)? = nil,
                 bind: @escaping @Sendable (Record, FieldCipher, SealedField?) throws -> SQLValue,
                 read: @escaping @Sendable (RowCell, FieldCipher, SealedField?) throws -> Any) {
        self.name = name
        self.keyPath = keyPath
        self.type = type
        self.nullable = nullable
        self.sealedRowID = sealedRowID
        self.bind = bind
        self.read = read
    }

    static func text(_ name: String, _ keyPath: any KeyPath<Record, String> & Sendable) -> Column {
        Column(name, keyPath, .text, nullable: false,
               bind: { record, _, _ in record[keyPath: keyPath] },
               read: { cell, _, _ in try cell.decode(String.self) })
    }

    static func optionalText(_ name: String, _ keyPath: any KeyPath<Record, String?> & Sendable) -> Column {
        Column(name, keyPath, .text, nullable: true,
               bind: { record, _, _ in record[keyPath: keyPath] },
               read: { cell, _, _ in try cell.decode(String?.self) as Any })
    }

    static func integer(_ name: String, _ keyPath: any KeyPath<Record, Int> & Sendable) -> Column {
        Column(name, keyPath, .integer, nullable: false,
               bind: { record, _, _ in record[keyPath: keyPath] },
               read: { cell, _, _ in try cell.decode(Int.self) })
    }

    static func date(_ name: String, _ keyPath: any KeyPath<Record, Date> & Sendable) -> Column {
        Column(name, keyPath, .bigint, nullable: false,
               bind: { record, _, _ in record[keyPath: keyPath].storageMillis },
               read: { cell, _, _ in Date(storageMillis: try cell.decode(Int64.self)) })
    }

    static func optionalDate(_ name: String, _ keyPath: any KeyPath<Record, Date?> & Sendable) -> Column {
        Column(name, keyPath, .bigint, nullable: true,
               bind: { record, _, _ in record[keyPath: keyPath].storageMillis },
               read: { cell, _, _ in try cell.decode(Int64?.self).map(Date.init(storageMillis:)) as Any })
    }

    static func json<T: Codable & Sendable>(_ name: String, _ keyPath: any KeyPath<Record, T> & Sendable) -> Column {
        Column(name, keyPath, .text, nullable: false,
               bind: { record, _, _ in try StoredJSON.encode(record[keyPath: keyPath]) },
               read: { cell, _, _ in try StoredJSON.decode(T.self, from: try cell.decode(String.self), column: cell.name) })
    }

    /// As `json`, decoding through `memo` (see `DecodedJSONMemo`).
    static func json<T: Codable & Sendable>(_ name: String, _ keyPath: any KeyPath<Record, T> & Sendable,
                                            memo: DecodedJSONMemo<T>) -> Column {
        Column(name, keyPath, .text, nullable: false,
               bind: { record, _, _ in try StoredJSON.encode(record[keyPath: keyPath]) },
               read: { cell, _, _ in try memo.decode(try cell.decode(String.self), column: cell.name) })
    }

    static func optionalJSON<T: Codable & Sendable>(_ name: String, _ keyPath: any KeyPath<Record, T?> & Sendable) -> Column {
        Column(name, keyPath, .text, nullable: true,
               bind: { record, _, _ in try record[keyPath: keyPath].map { try StoredJSON.encode($0) } },
               read: { cell, _, _ in
                   try cell.decode(String?.self).map { try StoredJSON.decode(T.self, from: $0, column: cell.name) } as Any
               })
    }

    static func enumeration<E: RawRepresentable & Sendable>(_ name: String, _ keyPath: any KeyPath<Record, E> & Sendable) -> Column
        where E.RawValue == String
    {
        Column(name, keyPath, .text, nullable: false,
               bind: { record, _, _ in record[keyPath: keyPath].rawValue },
               read: { cell, _, _ in
                   let raw = try cell.decode(String.self)
                   guard let value = E(rawValue: raw) else {
                       throw StorageError.invalid("column \(cell.name) holds unknown value '\(raw)'")
                   }
                   return value
               })
    }

    /// A secret kept recoverable: stored as an `enc:v1:` envelope bound to table, column and the row
    /// named by `rowID` (`SQLStorage+Sealing.swift`).
    static func sealedText(_ name: String, _ keyPath: any KeyPath<Record, String> & Sendable,
                           rowID: any KeyPath<Record, String> & Sendable) -> Column {
        Column(name, keyPath, .text, nullable: false, sealedRowID: rowID,
               bind: { record, cipher, field in try cipher.seal(record[keyPath: keyPath], try Self.required(field, name)) },
               read: { cell, cipher, field in
                   try cipher.open(try cell.decode(String.self), try Self.required(field, name))
               })
    }

    static func optionalSealedText(_ name: String, _ keyPath: any KeyPath<Record, String?> & Sendable,
                                   rowID: any KeyPath<Record, String> & Sendable) -> Column {
        Column(name, keyPath, .text, nullable: true, sealedRowID: rowID,
               bind: { record, cipher, field in try cipher.seal(record[keyPath: keyPath], try Self.required(field, name)) },
               read: { cell, cipher, field in
                   try cipher.open(try cell.decode(String?.self), try Self.required(field, name)) as Any
               })
    }

    private static func required(_ field: SealedField?, _ name: String) throws -> SealedField {
        guard let field else { throw StorageError.invalid("sealed column \(name) used without its row id") }
        return field
    }
}

// MARK: Tables

/// The columns of a table that any schema can describe, whatever its record type (for the sweep,
/// the encrypted columns and the schema test).
protocol AnyTableSchema: Sendable {
    var name: String { get }
    var primaryKey: [String] { get }
    var columnDescriptions: [(name: String, type: ColumnType, nullable: Bool)] { get }
    /// The sealed columns of this table.
    var sealedColumns: [SealedColumn] { get }
}

extension AnyTableSchema {
    /// Rows with an `expires_at` column are deleted by `sweepExpired` once expired.
    var sweptOnExpiry: Bool { columnDescriptions.contains { $0.name == "expires_at" } }
}

/// A table: its name, primary key and ordered columns, with the statements derived from them.
///
/// `@unchecked Sendable`: immutable after `init`; the lookup table is keyed by key paths, which are
/// immutable values but not declared `Sendable`.
struct TableSchema<Record: TableRecord>: AnyTableSchema, @unchecked Sendable {
    let name: String
    let primaryKey: [String]
    let columns: [Column<Record>]
    /// `col1, col2, …` in declared order: the SELECT and RETURNING list.
    let columnList: String
    // Statement texts, built once.
    let insertPrefix: String
    let selectPrefix: String
    let updatePrefix: String
    let deletePrefix: String
    let returningColumns: String
    let returningKey: String
    private let indexByKeyPath: [AnyKeyPath: Int]
    /// Per column, the index of its sealed row-id column.
    private let sealedRowIDIndex: [Int?]
    /// Positions of the columns a whole-row update writes (all but the primary key and insert-only
    /// columns), and of the primary key's columns, in declared order.
    private let updatedPositions: [Int]
    private let keyPositions: [Int]
    /// ` ON CONFLICT (primary key) DO UPDATE SET column = excluded.column, …` (or `DO NOTHING`).
    private let upsertSuffix: String

    init(_ name: String, primaryKey: [String], columns: [Column<Record>]) {
        self.name = name
        self.primaryKey = primaryKey
        self.columns = columns
        let columnList = columns.map(\.name).joined(separator: ", ")
        self.columnList = columnList
        self.insertPrefix = "INSERT INTO \(name) (\(columnList)) VALUES "
        self.selectPrefix = "SELECT \(columnList) FROM \(name) "
        self.updatePrefix = "UPDATE \(name) SET "
        self.deletePrefix = "DELETE FROM \(name) "
        self.returningColumns = " RETURNING \(columnList)"
        self.returningKey = " RETURNING \(primaryKey.joined(separator: ", "))"
        let updatedPositions = columns.indices.filter { !primaryKey.contains(columns[$0].name) && !columns[$0].isInsertOnly }
        self.updatedPositions = updatedPositions
        self.keyPositions = primaryKey.compactMap { key in columns.firstIndex { $0.name == key } }
        let updates = updatedPositions.map { "\(columns[$0].name) = excluded.\(columns[$0].name)" }
        self.upsertSuffix = " ON CONFLICT (\(primaryKey.joined(separator: ", "))) "
            + (updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET \(updates.joined(separator: ", "))")
        var index: [AnyKeyPath: Int] = [:]
        for (position, column) in columns.enumerated() {
            precondition(index.updateValue(position, forKey: column.keyPath) == nil, "\(name): property stored twice")
        }
        precondition(Set(columns.map(\.name)).count == columns.count, "\(name): column declared twice")
        precondition(primaryKey.allSatisfy { key in columns.contains { $0.name == key } }, "\(name): undeclared primary key")
        self.indexByKeyPath = index
        self.sealedRowIDIndex = columns.map { column in
            column.sealedRowID.map { rowID in
                guard let position = index[rowID] else { preconditionFailure("\(name).\(column.name): row id is not a column") }
                return position
            }
        }
    }

    var columnDescriptions: [(name: String, type: ColumnType, nullable: Bool)] {
        columns.map { ($0.name, $0.type, $0.nullable) }
    }

    var sealedColumns: [SealedColumn] {
        columns.indices.compactMap { position in
            sealedRowIDIndex[position].map { SealedColumn(table: name, column: columns[position].name, key: columns[$0].name) }
        }
    }

    /// The sealed column storing `keyPath` (a programming error if it is not one).
    func sealedColumn(_ keyPath: KeyPath<Record, some Any>) -> SealedColumn {
        guard let position = indexByKeyPath[keyPath], let rowID = sealedRowIDIndex[position] else {
            preconditionFailure("\(name): not a sealed column")
        }
        return SealedColumn(table: name, column: columns[position].name, key: columns[rowID].name)
    }


    // MARK: Writing

    /// The binds of `record`, in column order; sealed columns sealed for their row.
    func values(of record: Record, cipher: FieldCipher) throws -> [SQLValue] {
        try columns.indices.map { position in
            let column = columns[position]
            return try column.bind(record, cipher, sealedField(position, rowID: { record[keyPath: $0] }))
        }
    }

    private func sealedField(_ position: Int, rowID: (any KeyPath<Record, String> & Sendable) -> String) -> SealedField? {
        guard let keyPath = columns[position].sealedRowID else { return nil }
        return SealedField(table: name, column: columns[position].name, rowID: rowID(keyPath))
    }

    /// `INSERT INTO table (every column) VALUES (…), (…)`.
    func insert(_ records: [Record], cipher: FieldCipher) throws -> SQLQueryString {
        var query = SQLQueryString(insertPrefix)
        for (index, record) in records.enumerated() {
            query.appendLiteral(index == 0 ? "(" : ", (")
            query.appendInterpolation(binds: try values(of: record, cipher: cipher))
            query.appendLiteral(")")
        }
        return query
    }

    /// `INSERT … ON CONFLICT (primary key) DO UPDATE SET column = excluded.column` for every updated column.
    func upsert(_ record: Record, cipher: FieldCipher) throws -> SQLQueryString {
        var query = try insert([record], cipher: cipher)
        query.appendLiteral(upsertSuffix)
        return query
    }

    /// `UPDATE table SET every updated column WHERE primary key RETURNING primary key`.
    func update(_ record: Record, cipher: FieldCipher) throws -> SQLQueryString {
        let binds = try values(of: record, cipher: cipher)
        var query = SQLQueryString(updatePrefix)
        for (index, position) in updatedPositions.enumerated() {
            query.appendLiteral(index == 0 ? "\(columns[position].name) = " : ", \(columns[position].name) = ")
            query.appendInterpolation(bind: binds[position])
        }
        query.appendLiteral(" WHERE ")
        for (index, position) in keyPositions.enumerated() {
            query.appendLiteral(index == 0 ? "\(columns[position].name) = " : " AND \(columns[position].name) = ")
            query.appendInterpolation(bind: binds[position])
        }
        query.appendLiteral(returningKey)
        return query
    }

    // MARK: Reading

    func decode(_ row: any SQLRow, cipher: FieldCipher) throws -> Record {
        try Record(row: StoredRow(row: row, schema: self, cipher: cipher))
    }

    /// The position of `keyPath`'s column. `init(row:)` reads the properties in declared order, so
    /// the column after the previous read is compared first (one key-path comparison); the
    /// dictionary, which hashes the key path, is the fallback.
    fileprivate func position(of keyPath: AnyKeyPath, after previous: Int) throws -> Int {
        let expected = previous + 1
        if expected < columns.count, columns[expected].keyPath == keyPath { return expected }
        guard let position = indexByKeyPath[keyPath] else {
            throw StorageError.invalid("\(name): property \(keyPath) has no column")
        }
        return position
    }

    fileprivate func read<V>(_ position: Int, from row: RowCells, cipher: FieldCipher) throws -> V {
        let column = columns[position]
        var field: SealedField?
        if let rowID = sealedRowIDIndex[position] {
            let idColumn = columns[rowID]
            guard let id = try idColumn.read(row.cell(rowID, idColumn.name), cipher, nil) as? String else {
                throw StorageError.invalid("\(name).\(idColumn.name) is not text")
            }
            field = SealedField(table: name, column: column.name, rowID: id)
        }
        guard let value = try column.read(row.cell(position, column.name), cipher, field) as? V else {
            throw StorageError.invalid("\(name).\(column.name) does not hold a \(V.self)")
        }
        return value
    }
}

/// The cells of one result row. Every statement of a table selects or returns the declared columns
/// in declared order (`columnList`), so a column's position in the row is its position in the
/// declaration: SQLite rows are read by position (checked against the column's name), other rows
/// by name.
struct RowCells {
    let row: any SQLRow
    let sqlite: SQLiteResultRow?

    init(_ row: any SQLRow) {
        self.row = row
        self.sqlite = row as? SQLiteResultRow
    }

    func cell(_ position: Int, _ name: String) -> RowCell {
        RowCell(cells: self, position: position, name: name)
    }
}

/// One cell: a column of a result row.
struct RowCell {
    let cells: RowCells
    let position: Int
    let name: String

    func decode<D: Decodable>(_ type: D.Type) throws -> D {
        if let sqlite = cells.sqlite, sqlite.columns.names.indices.contains(position), sqlite.columns.names[position] == name {
            return try sqlite.decode(at: position, column: name, as: type)
        }
        return try cells.row.decode(column: name, as: type)
    }
}

/// A row of `Record`'s table, read property by property through the declared columns.
final class StoredRow<Record: TableRecord> {
    private let cells: RowCells
    private let schema: TableSchema<Record>
    private let cipher: FieldCipher
    /// The position of the column read last.
    private var last = -1

    init(row: any SQLRow, schema: TableSchema<Record>, cipher: FieldCipher) {
        self.cells = RowCells(row)
        self.schema = schema
        self.cipher = cipher
    }

    subscript<V>(_ keyPath: KeyPath<Record, V>) -> V {
        get throws {
            let position = try schema.position(of: keyPath, after: last)
            last = position
            return try schema.read(position, from: cells, cipher: cipher)
        }
    }
}

/// Every table of the schema. Signing keys come first: the sealed-secrets report and re-keying
/// (`SQLStorage+Sealing.swift`) handle the server's keys before client secrets.
enum Tables {
    static let all: [any AnyTableSchema] = [
        SigningKeyRecord.schema, Client.schema, User.schema, Grant.schema, AuthorizationCodeRecord.schema,
        TokenRecord.schema, PushedRequestRecord.schema, ReplayEntry.schema, SessionRecord.schema,
        InteractionRecord.schema, SchemaMigration.schema,
    ]
}

// MARK: Statements

extension SQLQueryString {
    /// The table name of `Record`.
    mutating func appendInterpolation<Record: TableRecord>(table: Record.Type) {
        appendLiteral(Record.schema.name)
    }
}

extension SQLDatabase {
    // Plain SQL text with binds rather than SQLKit's builders: the builder quotes every identifier
    // through `replacingOccurrences` (NSString on Linux), which cost more than the INSERT itself.
    // Table and column names are the schema's own snake_case names, written unquoted as in the
    // migrations; values are always binds.

    func insert<Record: TableRecord>(_ records: [Record], cipher: FieldCipher) async throws {
        guard !records.isEmpty else { return }
        try await raw(try Record.schema.insert(records, cipher: cipher)).run()
    }

    func upsert<Record: TableRecord>(_ record: Record, cipher: FieldCipher) async throws {
        try await raw(try Record.schema.upsert(record, cipher: cipher)).run()
    }

    /// Rewrites every updated column of the row with `record`'s primary key; false if there is none.
    func update<Record: TableRecord>(_ record: Record, cipher: FieldCipher) async throws -> Bool {
        try await raw(try Record.schema.update(record, cipher: cipher)).all().count > 0
    }

    /// `SELECT every column FROM table <tail>` (tail: `WHERE …`, `ORDER BY …`, `LIMIT …`).
    func select<Record: TableRecord>(_ type: Record.Type, _ tail: SQLQueryString = "", cipher: FieldCipher) async throws -> [Record] {
        let schema = Record.schema
        let rows = try await raw(SQLQueryString(schema.selectPrefix) + tail).all()
        return try rows.map { try schema.decode($0, cipher: cipher) }
    }

    /// `UPDATE table SET <set> <tail> RETURNING every column`: the rows as changed.
    func update<Record: TableRecord>(_ type: Record.Type, set: SQLQueryString, _ tail: SQLQueryString,
                                     cipher: FieldCipher) async throws -> [Record] {
        let schema = Record.schema
        let query = SQLQueryString(schema.updatePrefix) + set + " " + tail + SQLQueryString(schema.returningColumns)
        return try await raw(query).all().map { try schema.decode($0, cipher: cipher) }
    }

    /// `UPDATE table SET <set> <tail>`: how many rows changed.
    func updateCount<Record: TableRecord>(_ type: Record.Type, set: SQLQueryString, _ tail: SQLQueryString) async throws -> Int {
        let schema = Record.schema
        let query = SQLQueryString(schema.updatePrefix) + set + " " + tail + SQLQueryString(schema.returningKey)
        return try await raw(query).all().count
    }

    /// `DELETE FROM table <tail> RETURNING every column`: the rows deleted.
    func delete<Record: TableRecord>(_ type: Record.Type, _ tail: SQLQueryString, cipher: FieldCipher) async throws -> [Record] {
        let schema = Record.schema
        let query = SQLQueryString(schema.deletePrefix) + tail + SQLQueryString(schema.returningColumns)
        return try await raw(query).all().map { try schema.decode($0, cipher: cipher) }
    }

    /// `DELETE FROM table <tail>`: how many rows were deleted.
    func deleteCount<Record: TableRecord>(_ type: Record.Type, _ tail: SQLQueryString) async throws -> Int {
        let schema = Record.schema
        let query = SQLQueryString(schema.deletePrefix) + tail + SQLQueryString(schema.returningKey)
        return try await raw(query).all().count
    }
}
